using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_create_queue: ResultQueue.Create, the work inline in the child, which sends (i, j, result).</summary>
public static class SimpleCreateQueue
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var queue = new ResultQueue<(int, int, int)>(limit: options.Limit);
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) =>
        {
            var channel = queue.Create();
            if (channel is not null)
            {
                // In the child.
                channel.Send(Table.CalculateCell(i, j, options.Delay));
                Fork.Exit(channel);
            }
        });
        Console.WriteLine("Finishing...");
        var results = Table.NewResults();
        foreach (var cell in queue)
        {
            Table.Store(results, cell);
        }
        Table.Print(results, clock);
    }
}
