using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple2: sequential, with a function that returns (i, j, result) stored by cell.</summary>
public static class Simple2
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.NewResults();
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) => Table.Store(results, Table.CalculateCell(i, j, options.Delay)));
        Table.Print(results, clock);
    }
}
