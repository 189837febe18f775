using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_persistent_queue: PersistentQueue.Manage(address, MakeParallel(f)) starts a background
/// process per cell (at most --limit computing at once), and the queue yields the cells as they
/// are collected. With --start the run starts them and leaves; a later run with --reconnect collects.
/// </summary>
public static class SimplePersistentQueue
{
    public static void Run(Options options)
    {
        var (start, reconnect) = PersistentAddresses.Mode(options);
        var address = Path.Combine(PersistentAddresses.Directory(options), "spq.{0}.{1}.sock");
        var clock = Stopwatch.StartNew();
        var delay = options.Delay;
        using var queue = new PersistentQueue<(int, int, int)>(options.Limit);
        if (!reconnect)
        {
            var calculate = queue.Manage(address, Exchange.MakeParallel((int i, int j) => Table.CalculateCell(i, j, delay)));
            Table.ForEachCell(calculate);
            if (start)
            {
                queue.StartQueued();
                Console.WriteLine($"Started {queue.Started.Count} background processes at {string.Format(address, "*", "*")}; collect with --reconnect.");
                return;
            }
        }
        else
        {
            Table.ForEachCell((i, j) => queue.Connect(string.Format(address, i, j)));
        }
        var results = Table.NewResults();
        foreach (var cell in queue)
        {
            Table.Store(results, cell);
        }
        Table.Print(results, clock);
    }
}
