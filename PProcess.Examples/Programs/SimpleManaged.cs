using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_managed: MakeParallel turns a plain function into a job, and Exchange.Manage into a
/// function that starts a child on each call; the exchange's StoreData fills the table.
/// </summary>
public static class SimpleManaged
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.NewResults();
        using var exchange = new TableExchange(options.Limit, results);
        var calculate = exchange.Manage(Exchange.MakeParallel((int i, int j) => Table.CalculateCell(i, j, options.Delay)));
        Console.WriteLine("Calculating...");
        Table.ForEachCell(calculate);
        Console.WriteLine("Finishing...");
        exchange.Finish();
        Table.Print(results, clock);
    }
}
