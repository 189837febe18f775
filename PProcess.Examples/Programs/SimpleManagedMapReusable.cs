using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_managed_map_reusable: Map with reuse and MakeReusable: only --limit children are forked;
/// each receives the arguments of further jobs over its channel.
/// </summary>
public static class SimpleManagedMapReusable
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var results = new Map<int>(new ExchangeOptions { Limit = options.Limit, Reuse = true });
        var calculate = results.Manage(Exchange.MakeReusable((int i, int j) => Table.Calculate(i, j, options.Delay)));
        Console.WriteLine("Calculating...");
        Table.ForEachCell(calculate);
        Table.PrintRows(i => results[(i * Options.N)..((i + 1) * Options.N)], clock);
    }
}
