using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple: the sequential version, for comparison.</summary>
public static class Simple
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = new int[Options.N * Options.N];
        for (int i = 0; i < Options.N; i++)
        {
            for (int j = 0; j < Options.N; j++)
            {
                results[i * Options.N + j] = Table.Calculate(i, j, options.Delay);
            }
        }
        Table.Print(results, clock);
    }
}
