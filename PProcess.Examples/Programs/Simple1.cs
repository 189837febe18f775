using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple1: sequential, appending each result to a list in loop order.</summary>
public static class Simple1
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = new List<int>();
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) => results.Add(Table.Calculate(i, j, options.Delay)));
        Table.Print(results, clock);
    }
}
