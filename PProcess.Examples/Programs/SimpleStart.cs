using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_start: Exchange.Start with a parallel-aware function that sends (i, j, result) over its
/// channel, and an Exchange subclass whose StoreData fills the table.
/// </summary>
public static class SimpleStart
{
    private static void Calculate(Channel channel, (int I, int J) cell, TimeSpan delay) =>
        channel.Send(Table.CalculateCell(cell.I, cell.J, delay));

    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.NewResults();
        using var exchange = new TableExchange(options.Limit, results);
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) => exchange.Start(Calculate, (i, j), options.Delay));
        Console.WriteLine("Finishing...");
        exchange.Finish();
        Table.Print(results, clock);
    }
}
