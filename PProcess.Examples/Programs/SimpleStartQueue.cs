using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_start_queue: ResultQueue.Start with a parallel-aware function; results taken in arrival order.</summary>
public static class SimpleStartQueue
{
    private static void Calculate(Channel channel, int i, int j, TimeSpan delay) =>
        channel.Send(Table.CalculateCell(i, j, delay));

    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var queue = new ResultQueue<(int, int, int)>(limit: options.Limit);
        Table.ForEachCell((i, j) => queue.Start(Calculate, i, j, options.Delay));
        Console.WriteLine("Finishing...");
        var results = Table.NewResults();
        foreach (var cell in queue)
        {
            Table.Store(results, cell);
        }
        Table.Print(results, clock);
    }
}
