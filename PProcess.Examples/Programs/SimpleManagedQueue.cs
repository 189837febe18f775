using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_managed_queue: ResultQueue.Manage(MakeParallel(calculate)); (i, j, result) taken in arrival order.</summary>
public static class SimpleManagedQueue
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var queue = new ResultQueue<(int, int, int)>(limit: options.Limit);
        var calculate = queue.Manage(Exchange.MakeParallel((int i, int j) => Table.CalculateCell(i, j, options.Delay)));
        Console.WriteLine("Calculating...");
        Table.ForEachCell(calculate);
        Console.WriteLine("Finishing...");
        var results = Table.NewResults();
        foreach (var cell in queue)
        {
            Table.Store(results, cell);
        }
        Table.Print(results, clock);
    }
}
