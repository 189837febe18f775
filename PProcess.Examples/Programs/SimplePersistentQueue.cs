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
        if (!reconnect)
        {
            using (var starting = new PersistentQueue<(int, int, int)>(options.Limit))
            {
                var calculate = starting.Manage(address, Exchange.MakeParallel((int i, int j) => Table.CalculateCell(i, j, delay)));
                Table.ForEachCell(calculate);
                starting.StartQueued();
            }
            Console.WriteLine("Discarded the callable.");
        }
        if (!start)
        {
            Console.WriteLine("Opening a queue.");
            using var queue = new PersistentQueue<(int, int, int)>(options.Limit);
            Table.ForEachCell((i, j) => queue.Connect(string.Format(address, i, j)));
            var results = Table.NewResults();
            Console.WriteLine("Waiting for persistent results");
            foreach (var cell in queue)
            {
                Table.Store(results, cell);
            }
            Table.Print(results, clock);
        }
    }
}
