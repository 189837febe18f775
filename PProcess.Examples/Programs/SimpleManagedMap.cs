using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_managed_map: Map.Manage(MakeParallel(calculate)); rows printed as slices of the Map.</summary>
public static class SimpleManagedMap
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var results = new Map<int>(limit: options.Limit);
        var calculate = results.Manage(Exchange.MakeParallel((int i, int j) => Table.Calculate(i, j, options.Delay)));
        Console.WriteLine("Calculating...");
        Table.ForEachCell(calculate);
        Table.PrintRows(i => results[(i * Options.N)..((i + 1) * Options.N)], clock);
    }
}
