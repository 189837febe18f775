using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple: the sequential version, for comparison: nested loops filling the table.</summary>
public static class Simple
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.NewResults();
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) => results[i * Options.N + j] = Table.Calculate(i, j, options.Delay));
        Table.Print(results, clock);
    }
}
