using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_start: Exchange.Start with a parallel-aware function that sends (i, j, result) over its
/// channel, and an Exchange subclass whose StoreData fills the table.
/// </summary>
public static class SimpleStart
{
    private static void Calculate(Channel channel, (int I, int J) cell, TimeSpan delay) =>
        channel.Send((cell.I, cell.J, Table.Calculate(cell.I, cell.J, delay)));

    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = new int[Options.N * Options.N];
        using var exchange = new TableExchange(options.Limit, results);
        for (int i = 0; i < Options.N; i++)
        {
            for (int j = 0; j < Options.N; j++)
            {
                exchange.Start(Calculate, (i, j), options.Delay);
            }
        }
        exchange.Finish();
        Table.Print(results, clock);
    }
}
