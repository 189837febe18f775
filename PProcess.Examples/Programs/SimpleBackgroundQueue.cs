using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_background_queue: a BackgroundCallable runs the whole computation (a ResultQueue of
/// children) in one background process at one socket; a BackgroundQueue collects the cells.
/// With --start the run starts it and leaves; a later run with --reconnect collects.
/// </summary>
public static class SimpleBackgroundQueue
{
    public static void Run(Options options)
    {
        var (start, reconnect) = PersistentAddresses.Mode(options);
        var address = Path.Combine(PersistentAddresses.Directory(options), "sbq.sock");
        var clock = Stopwatch.StartNew();
        var delay = options.Delay;
        int limit = options.Limit;
        if (!reconnect)
        {
            // The background process's own output (pprocess's task prints "Calculating..." and
            // "Finishing..." there) goes to /dev/null: it is a daemon, detached from this terminal.
            var task = new BackgroundCallable(address, channel =>
            {
                using var queue = new ResultQueue<(int, int, int)>(limit);
                var calculate = queue.Manage(Exchange.MakeParallel((int i, int j) => Table.CalculateCell(i, j, delay)));
                Table.ForEachCell(calculate);
                foreach (var cell in queue)
                {
                    channel.Send(cell);
                }
            });
            task.Start().Dispose();
            Console.WriteLine("Discarded the callable.");
        }
        if (!start)
        {
            Console.WriteLine("Opening a queue.");
            var results = Table.NewResults();
            using var collector = new BackgroundQueue<(int, int, int)>(address);
            Console.WriteLine("Waiting for persistent results");
            foreach (var cell in collector)
            {
                Table.Store(results, cell);
            }
            Table.Print(results, clock);
        }
    }
}
