using System.Diagnostics;
using System.Globalization;
using PProcess;

namespace PProcess.Benchmarks;

/// <summary>
/// One workload in a loop, for a profiler to watch (docs/performance.md, "The exchange's own cost
/// per reused job"): <c>dotnet run --project PProcess.Benchmarks -c Release -- profile WORKLOAD [N] [socket|shm]</c>.
/// Workloads: <c>job</c> (N reused jobs of a MakeReusable function through a Map, limit 1),
/// <c>channel</c> (N round trips of an int through a channel to an echoing child). Prints µs per
/// round trip; the work before the timed loop (the fork, a warm-up of 1000) is outside it.
/// </summary>
internal static class Profile
{
    /// <summary>
    /// With <c>PPROCESS_PERF_CONTROL</c> naming the control fifo of <c>perf record -D -1 --control fifo:FIFO</c>,
    /// turns recording on for the timed loop only, so that start-up and the fork stay out of the profile.
    /// </summary>
    private static void Perf(string command)
    {
        if (Environment.GetEnvironmentVariable("PPROCESS_PERF_CONTROL") is { Length: > 0 } fifo)
        {
            File.WriteAllText(fifo, command + "\n");
        }
    }

    internal static int Run(string[] args)
    {
        string workload = args.ElementAtOrDefault(0) ?? "job";
        int n = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000;
        var transport = args.ElementAtOrDefault(2) == "shm" ? ChannelTransportKind.SharedMemory : ChannelTransportKind.Socket;
        double seconds;
        long parentBefore, parentAfter, childBefore, childAfter;
        int gcBefore, gcAfter;
        switch (workload)
        {
            case "job":
            {
                // A negative argument asks the child how many KiB it has allocated so far.
                var twice = Exchange.MakeReusable((int x) => x >= 0 ? x * 2 : (int)(GC.GetAllocatedBytesForCurrentThread() >> 10));
                // A first map compiles the parent's side before the measured child is forked: code the
                // parent compiled later could lie at addresses where the child compiles its own, and
                // both write the same perf map, which would then name the wrong methods.
                using (var first = new Map<int>(new ExchangeOptions { Limit = 1, Reuse = true, Transport = transport }))
                {
                    for (int i = 0; i < 100; i++)
                    {
                        first.Start(twice, i);
                    }
                    _ = first.Sum();
                }
                using var map = new Map<int>(new ExchangeOptions { Limit = 1, Reuse = true, Transport = transport });
                // An exchange tells an idle child to quit when nothing is queued: one job more than
                // those read is always started, so that the same child serves the whole run.
                for (int i = 0; i < 1000; i++)
                {
                    map.Start(twice, i);
                }
                map.Start(twice, -1);
                map.Start(twice, 0);
                childBefore = map[1000];
                (parentBefore, gcBefore) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
                Perf("enable");
                var clock = Stopwatch.StartNew();
                for (int i = 1; i < n; i++)
                {
                    map.Start(twice, i);
                }
                map.Start(twice, -1);
                long sum = 0;
                for (int i = 1001; i < map.Count - 1; i++)
                {
                    sum += map[i];
                }
                seconds = clock.Elapsed.TotalSeconds;
                Perf("disable");
                (parentAfter, gcAfter) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
                childAfter = map[map.Count - 1];
                if (sum != (long)n * (n - 1))
                {
                    throw new InvalidOperationException("wrong results");
                }
                break;
            }
            case "channel":
            {
                // The string "allocated" asks the child how many KiB it has allocated so far.
                using var echo = Fork.Start(c =>
                {
                    while (c.TryReceive(out var value))
                    {
                        c.Send(value is "allocated" ? (int)(GC.GetAllocatedBytesForCurrentThread() >> 10) : value);
                    }
                }, new ChannelOptions { Transport = transport });
                for (int i = 0; i < 1000; i++)
                {
                    echo.Send(i);
                    echo.Receive<int>();
                }
                echo.Send("allocated");
                childBefore = echo.Receive<int>();
                (parentBefore, gcBefore) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
                Perf("enable");
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < n; i++)
                {
                    echo.Send(i);
                    echo.Receive<int>();
                }
                seconds = clock.Elapsed.TotalSeconds;
                Perf("disable");
                (parentAfter, gcAfter) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
                echo.Send("allocated");
                childAfter = echo.Receive<int>();
                echo.Close();
                echo.Wait();
                break;
            }
            default:
                Console.Error.WriteLine($"profile: unknown workload '{workload}' (job, channel)");
                return 2;
        }
        Console.WriteLine($"{workload} {transport}: {seconds / n * 1e6:0.00} µs per round trip ({n} round trips); allocated per round trip: " +
            $"parent {(parentAfter - parentBefore) / (double)n:0} bytes ({gcAfter - gcBefore} gen0 collections), child {(childAfter - childBefore) * 1024.0 / n:0} bytes");
        return 0;
    }
}
