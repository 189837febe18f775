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
        var results = Table.NewResults();
        using var exchange = new TableExchange(options.Limit, results);
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) =>
        {
            var channel = exchange.Create();
            if (channel is not null)
            {
                // In the child.
                channel.Send(Table.CalculateCell(i, j, options.Delay));
                Fork.Exit(channel);
            }
        });
        Console.WriteLine("Finishing...");
        exchange.Finish();
        Table.Print(results, clock);
    }
}
