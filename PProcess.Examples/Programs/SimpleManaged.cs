using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_managed: Exchange.Manage turns a parallel-aware function into one that starts a child on each call.</summary>
public static class SimpleManaged
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = new int[Options.N * Options.N];
        using var exchange = new TableExchange(options.Limit, results);
        var calculate = exchange.Manage<int, int>((channel, i, j) => channel.Send((i, j, Table.Calculate(i, j, options.Delay))));
        for (int i = 0; i < Options.N; i++)
        {
            for (int j = 0; j < Options.N; j++)
            {
                calculate(i, j);
            }
        }
        exchange.Finish();
        Table.Print(results, clock);
    }
}
