using System.Diagnostics;
using PProcess;

namespace PProcess.Benchmarks;

/// <summary>What one run of round trips measured: the time of one, and what each side allocated per round trip.</summary>
internal readonly record struct RoundTripFigures(double Microseconds, double ParentBytes, double ChildBytes, int Gen0Collections);

/// <summary>
/// Round trips in a steady state, the child already forked and warmed up (section 2 of the
/// benchmarks, and the <c>profile</c> command): what a reused job costs the exchange, and what a
/// bare channel ping-pong costs, against the C socketpair ping-pong.
/// </summary>
internal static class RoundTrips
{
    /// <summary>
    /// <paramref name="n"/> jobs of a MakeReusable int function handed one by one to the one child
    /// of a <c>Map(limit 1, reuse)</c>, all started before the first is read (as a user queues a
    /// batch of jobs). <paramref name="mark"/> is told "enable" and "disable" around the timed part.
    /// </summary>
    internal static RoundTripFigures ReusedJobs(int n, ChannelTransportKind transport, Action<string>? mark = null)
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
        long childBefore = map[1000];
        var (parentBefore, gcBefore) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
        mark?.Invoke("enable");
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
        double seconds = clock.Elapsed.TotalSeconds;
        mark?.Invoke("disable");
        var (parentAfter, gcAfter) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
        long childAfter = map[map.Count - 1];
        if (sum != (long)n * (n - 1))
        {
            throw new InvalidOperationException("the reused jobs' results are wrong");
        }
        return new(seconds / n * 1e6, (parentAfter - parentBefore) / (double)n, (childAfter - childBefore) * 1024.0 / n, gcAfter - gcBefore);
    }

    /// <summary><paramref name="n"/> round trips of an int through a channel to a child that echoes each value.</summary>
    internal static RoundTripFigures ChannelEchoes(int n, ChannelTransportKind transport, Action<string>? mark = null)
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
        long childBefore = echo.Receive<int>();
        var (parentBefore, gcBefore) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
        mark?.Invoke("enable");
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < n; i++)
        {
            echo.Send(i);
            if (echo.Receive<int>() != i)
            {
                throw new InvalidOperationException("the echo is wrong");
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        mark?.Invoke("disable");
        var (parentAfter, gcAfter) = (GC.GetAllocatedBytesForCurrentThread(), GC.CollectionCount(0));
        echo.Send("allocated");
        long childAfter = echo.Receive<int>();
        echo.Close();
        echo.Wait();
        return new(seconds / n * 1e6, (parentAfter - parentBefore) / (double)n, (childAfter - childBefore) * 1024.0 / n, gcAfter - gcBefore);
    }
}
