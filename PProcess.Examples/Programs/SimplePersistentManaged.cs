using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_persistent_managed: PersistentExchange.Manage(address, f) starts one background
/// process per row, each listening at its own socket; the exchange's StoreData fills the table.
/// With --start the run starts them and leaves; a later run with --reconnect collects them.
/// </summary>
public static class SimplePersistentManaged
{
    public static void Run(Options options)
    {
        var (start, reconnect) = PersistentAddresses.Mode(options);
        var address = Path.Combine(PersistentAddresses.Directory(options), "spm.{0}.sock");
        var clock = Stopwatch.StartNew();
        var results = Table.NewResults();
        var delay = options.Delay;
        if (!reconnect)
        {
            using (var original = new PersistentTableExchange(options.Limit, results))
            {
                var calculate = original.Manage(address, (Channel channel, int i) =>
                {
                    for (int j = 0; j < Options.N; j++)
                    {
                        channel.Send(Table.CalculateCell(i, j, delay));
                    }
                });
                for (int i = 0; i < Options.N; i++)
                {
                    calculate(i);
                }
                original.StartQueued();
            }
            Console.WriteLine("Closed original exchange.");
        }
        if (!start)
        {
            Console.WriteLine("Opening new exchange.");
            using var exchange = new PersistentTableExchange(options.Limit, results);
            for (int i = 0; i < Options.N; i++)
            {
                exchange.Connect(string.Format(address, i));
            }
            Console.WriteLine("Waiting for persistent results");
            exchange.Finish();
            Table.Print(results, clock);
        }
    }

    private sealed class PersistentTableExchange(int limit, int[] results) : PersistentExchange(limit)
    {
        protected override void StoreData(Channel channel) => Table.Store(results, channel.Receive<(int, int, int)>());
    }
}
