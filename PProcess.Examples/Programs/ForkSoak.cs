using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// fork_soak: many fork-per-job jobs from a program shaped like real ones (it has used the thread
/// pool before it forks), first from one thread, then from four threads at once, with no timeout
/// configured: every result must be right and nothing may hang. Prints how many forks had to be
/// made again because a child could not start safely (docs/fork-safety.md, "How a fork is made"),
/// and why. A watchdog reports a hang (no job finished for --stall seconds) with the state of the
/// children, and exits 1. Usage: fork_soak [--forks N] [--threaded N] [--limit N] [--stall S].
/// </summary>
public static class ForkSoak
{
    private static long finished;

    public static void Run(Options options)
    {
        var extra = new ExtraArguments(options.Rest, "usage: fork_soak [--forks N] [--threaded N] [--limit N] [--stall SECONDS]");
        int forks = extra.Int("--forks", 100_000, 1);
        int threaded = extra.Int("--threaded", 20_000, 4);
        int stall = extra.Int("--stall", 120, 1);
        extra.ThrowIfAnyLeft();
        int limit = options.LimitGiven ? options.Limit : Cores.Usable;

        // A real program has used the pool before it forks (async Main, Task.Run, PLINQ).
        Console.WriteLine($"fork_soak: parent used the pool: {Task.Run(() => Environment.ProcessorCount).Result} cores, {ThreadPool.ThreadCount} pool threads");
        StartWatchdog(TimeSpan.FromSeconds(stall));
        var clock = Stopwatch.StartNew();

        Console.WriteLine($"| phase | jobs | seconds | ms per job | retried forks |");
        Console.WriteLine("|---|---|---|---|---|");
        long retriesBefore = Fork.Retries;
        Check(Sum(0, forks, limit) == Expected(0, forks), "one thread: wrong sum");
        Report("1 thread", forks, clock.Elapsed, Fork.Retries - retriesBefore);

        retriesBefore = Fork.Retries;
        var start = clock.Elapsed;
        int each = threaded / 4;
        var sums = new long[4];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() => sums[t] = Sum(t * each, each, limit))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        for (int t = 0; t < 4; t++)
        {
            Check(sums[t] == Expected(t * each, each), $"thread {t}: wrong sum");
        }
        Report("4 threads", 4 * each, clock.Elapsed - start, Fork.Retries - retriesBefore);

        var reasons = Fork.RecentRetryReasons.GroupBy(Shape).Select(g => $"{g.Count()} x {g.Key}");
        Console.WriteLine($"retried forks in all: {Fork.Retries}; the last {Fork.RecentRetryReasons.Count} reasons: {string.Join("; ", reasons)}");
        Console.WriteLine(failed ? "fork_soak: FAILED" : "fork_soak: ok (every result right, no hang)");
        if (failed)
        {
            Environment.ExitCode = 1;
        }
    }

    /// <summary>The jobs' results summed; each job forks its own child (PMapMode.ForkPerElement).</summary>
    private static long Sum(int from, int count, int limit)
    {
        long sum = 0;
        foreach (var x in Enumerable.Range(from, count).PMap(x => x * 2L, new PMapOptions { Limit = limit, Mode = PMapMode.ForkPerElement }))
        {
            sum += x;
            Interlocked.Increment(ref finished);
        }
        return sum;
    }

    private static long Expected(int from, int count) => 2L * ((long)from * count + (long)count * (count - 1) / 2);

    private static void Report(string phase, int jobs, TimeSpan took, long retries) =>
        Console.WriteLine($"| {phase} | {jobs} | {took.TotalSeconds:F1} | {took.TotalMilliseconds / jobs:F2} | {retries} |");

    /// <summary>"thread 123 'name' ran" and the like, without the numbers, to count reasons by kind.</summary>
    private static string Shape(string reason) => System.Text.RegularExpressions.Regex.Replace(reason, @"\d+", "N");

    private static bool failed;

    private static void Check(bool ok, string what)
    {
        if (!ok)
        {
            Console.WriteLine($"fork_soak: {what}");
            failed = true;
        }
    }

    /// <summary>A thread that reports a hang: no job finished for a while. It sleeps otherwise, so forks go on.</summary>
    private static void StartWatchdog(TimeSpan stall)
    {
        var watchdog = new Thread(() =>
        {
            long last = -1;
            var since = Stopwatch.StartNew();
            while (true)
            {
                Thread.Sleep(1000);
                long now = Interlocked.Read(ref finished);
                if (now != last)
                {
                    last = now;
                    since.Restart();
                }
                else if (since.Elapsed > stall)
                {
                    Console.WriteLine($"fork_soak: HANG: no job finished for {stall.TotalSeconds} s after {now} jobs");
                    foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
                    {
                        foreach (var child in File.ReadAllText(task + "/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
                        {
                            string stat = File.Exists($"/proc/{child}/stat") ? File.ReadAllText($"/proc/{child}/stat") : "gone";
                            string syscall = File.Exists($"/proc/{child}/syscall") ? File.ReadAllText($"/proc/{child}/syscall").Trim() : "";
                            Console.WriteLine($"  child {child}: {stat.Trim()} | syscall {syscall}");
                        }
                    }
                    Console.Out.Flush();
                    Environment.Exit(1);
                }
            }
        })
        { IsBackground = true, Name = "fork_soak watchdog" };
        watchdog.Start();
    }
}
