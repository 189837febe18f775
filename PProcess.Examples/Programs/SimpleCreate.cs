using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_create: Exchange.Create forks, and the work is done inline in the child, which sends its
/// result and leaves with Fork.Exit.
/// </summary>
public static class SimpleCreate
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = new int[Options.N * Options.N];
        using var exchange = new TableExchange(options.Limit, results);
        for (int i = 0; i < Options.N; i++)
        {
            for (int j = 0; j < Options.N; j++)
            {
                var channel = exchange.Create();
                if (channel is not null)
                {
                    // In the child.
                    channel.Send((i, j, Table.Calculate(i, j, options.Delay)));
                    Fork.Exit(channel);
                }
            }
        }
        exchange.Finish();
        Table.Print(results, clock);
    }
}
