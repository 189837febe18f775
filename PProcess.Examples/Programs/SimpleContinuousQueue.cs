using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_continuous_queue: a continuous ResultQueue; each child computes a whole row and sends N messages.</summary>
public static class SimpleContinuousQueue
{
    private static void CalculateRow(Channel channel, int i, TimeSpan delay)
    {
        for (int j = 0; j < Options.N; j++)
        {
            channel.Send(Table.CalculateCell(i, j, delay));
        }
    }

    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var queue = new ResultQueue<(int, int, int)>(new ExchangeOptions { Limit = options.Limit, Continuous = true });
        var calculate = queue.Manage<int, TimeSpan>(CalculateRow);
        Console.WriteLine("Calculating...");
        for (int i = 0; i < Options.N; i++)
        {
            calculate(i, options.Delay);
        }
        Console.WriteLine("Finishing...");
        var results = Table.NewResults();
        foreach (var cell in queue)
        {
            Table.Store(results, cell);
        }
        Table.Print(results, clock);
    }
}
