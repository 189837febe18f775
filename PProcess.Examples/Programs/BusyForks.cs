using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// busy_forks: awaitable forks in a busy server (issue 20, "Busy servers"). Request loops on pool
/// threads await <see cref="ForkTask.Run{TResult}(Func{TResult})"/> while other tasks keep the
/// thread pool busy with <c>await Task.Delay(1)</c>, so that the pool has work items queued at
/// many forks; each child drops the parent's queued work and starts with an empty pool.
/// Prints each fork's latency (p50, p99, max), the forks made again and why (docs/fork-safety.md).
/// </summary>
public static class BusyForks
{
    public static void Run(Options options)
    {
        int loops = IntOption(options, "--loops", 16), forks = IntOption(options, "--forks", 10), busy = IntOption(options, "--busy", 4);
        int delayMs = IntOption(options, "--timer", 1);
        var result = Measure(loops, forks, busy, delayMs);
        var ms = result.Latencies.Select(t => t.TotalMilliseconds).Order().ToArray();
        Console.WriteLine($"runtime {Environment.Version}: {loops} request loops x {forks} awaited forks, {busy} tasks awaiting Task.Delay({delayMs})");
        Console.WriteLine($"succeeded: {result.Succeeded} of {loops * forks} in {result.Elapsed.TotalSeconds:F1} s; " +
            $"latency p50 {Percentile(ms, 0.50):F1} ms, p99 {Percentile(ms, 0.99):F1} ms, max {ms[^1]:F1} ms");
        Console.WriteLine($"forks made again: {result.Retries}" + (result.Reasons.Count > 0 ? $" (last reasons: {string.Join("; ", result.Reasons.TakeLast(3))})" : ""));
        if (result.Succeeded != loops * forks)
        {
            Environment.ExitCode = 1;
        }
    }

    /// <summary>What <see cref="Measure"/> saw: each fork's latency, how many returned the right result, the forks made again and why.</summary>
    public sealed record Outcome(IReadOnlyList<TimeSpan> Latencies, int Succeeded, TimeSpan Elapsed, long Retries, IReadOnlyList<string> Reasons);

    /// <summary>
    /// <paramref name="loops"/> request loops, each on a pool thread, await <paramref name="forks"/>
    /// forks one after the other, while <paramref name="busy"/> tasks await Task.Delay(<paramref name="delayMs"/>)
    /// in a loop. A fork's exception propagates (the caller sees which one failed, and why).
    /// </summary>
    public static Outcome Measure(int loops, int forks, int busy, int delayMs = 1)
    {
        long retriesBefore = Fork.Retries;
        using var stop = new CancellationTokenSource();
        var busyTasks = Enumerable.Range(0, busy).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(delayMs);
            }
        })).ToArray();
        var clock = Stopwatch.StartNew();
        var requests = Enumerable.Range(0, loops).Select(loop => Task.Run(async () =>
        {
            var latencies = new List<TimeSpan>();
            int right = 0;
            for (int i = 0; i < forks; i++)
            {
                int request = loop * 1000 + i;
                var started = Stopwatch.GetTimestamp();
                // The child computes from the parent's memory and reports its pid: a result from the parent itself would be wrong.
                var (answer, pid) = await ForkTask.Run(() => (request * 2, Environment.ProcessId));
                latencies.Add(Stopwatch.GetElapsedTime(started));
                if (answer == request * 2 && pid != Environment.ProcessId)
                {
                    right++;
                }
            }
            return (latencies, right);
        })).ToArray();
        try
        {
            Task.WaitAll(requests);
        }
        finally
        {
            stop.Cancel();
            Task.WaitAll(busyTasks);
        }
        var elapsed = clock.Elapsed;
        return new Outcome([.. requests.SelectMany(r => r.Result.latencies)], requests.Sum(r => r.Result.right), elapsed,
            Fork.Retries - retriesBefore, Fork.RecentRetryReasons);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static int IntOption(Options options, string name, int fallback)
    {
        int at = options.Rest.ToList().IndexOf(name);
        return at >= 0 && at + 1 < options.Rest.Count ? int.Parse(options.Rest[at + 1]) : fallback;
    }
}
