using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// fork_soak: many fork-per-job jobs from a program shaped like real ones (it has used the thread
/// pool before it forks), first from one thread, then from four threads at once, with no timeout
/// configured: every result must be right and nothing may hang. Prints how many forks had to be
/// made again because a child could not start safely (docs/fork-safety.md, "How a fork is made"),
/// and why. A watchdog reports a hang (no job finished for --stall seconds) with the state of the
/// children, and exits 1. With --tiering the parent keeps tiered compilation at work while it forks,
/// each child calls methods its parent never called past their call count, one child in 100 waits
/// for a promotion, and a third phase forks from a pool thread after an await (docs/fork-safety.md,
/// rule 8). Usage: fork_soak [--forks N] [--threaded N] [--limit N] [--stall S] [--tiering].
/// </summary>
public static class ForkSoak
{
    private static long finished;

    public static void Run(Options options)
    {
        var extra = new ExtraArguments(options.Rest, "usage: fork_soak [--forks N] [--threaded N] [--limit N] [--stall SECONDS] [--tiering]");
        int forks = extra.Int("--forks", 100_000, 1);
        int threaded = extra.Int("--threaded", 20_000, 4);
        int stall = extra.Int("--stall", 120, 1);
        tiering = extra.Flag("--tiering");
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

        if (tiering)
        {
            retriesBefore = Fork.Retries;
            start = clock.Elapsed;
            // As an async Main would: the forks are made on a pool thread, after an await.
            long asyncSum = Task.Run(async () =>
            {
                await Task.Yield();
                return Sum(0, forks, limit);
            }).Result;
            Check(asyncSum == Expected(0, forks), "after an await: wrong sum");
            Report("after an await", forks, clock.Elapsed - start, Fork.Retries - retriesBefore);
            Console.WriteLine($"tiering: the parent called {TieringChurn.Instantiated} generic instantiations; " +
                $"{Interlocked.Read(ref promoted)} sampled children saw a promotion, {Interlocked.Read(ref notPromoted)} did not in 20 s");
            Check(Interlocked.Read(ref notPromoted) == 0, "a child's tiered compilation never promoted a method");
        }

        var reasons = Fork.RecentRetryReasons.GroupBy(Shape).Select(g => $"{g.Count()} x {g.Key}");
        Console.WriteLine($"retried forks in all: {Fork.Retries}; the last {Fork.RecentRetryReasons.Count} reasons: {string.Join("; ", reasons)}");
        Console.WriteLine(failed ? "fork_soak: FAILED" : "fork_soak: ok (every result right, no hang)");
        if (failed)
        {
            Environment.ExitCode = 1;
        }
    }

    private static bool tiering;
    private static long promoted, notPromoted;

    /// <summary>The jobs' results summed; each job forks its own child (PMapMode.ForkPerElement).</summary>
    private static long Sum(int from, int count, int limit)
    {
        var options = new PMapOptions { Limit = limit, Mode = PMapMode.ForkPerElement };
        if (tiering)
        {
            return TieringSum(from, count, options);
        }
        long sum = 0;
        foreach (var x in Enumerable.Range(from, count).PMap(x => x * 2L, options))
        {
            sum += x;
            Interlocked.Increment(ref finished);
        }
        return sum;
    }

    /// <summary>
    /// The same sum, with the parent's tiered compilation at work while it reads the elements, and
    /// children whose own code must be promoted; each result is checked against the parent's own.
    /// </summary>
    private static long TieringSum(int from, int count, PMapOptions options)
    {
        long sum = 0;
        int x = from;
        var source = Enumerable.Range(from, count).Select(e =>
        {
            TieringChurn.Churn(e);
            return e;
        });
        foreach (var result in source.PMap(e => TieringChurn.ChildJob(e, waitForPromotion: e % 100 == 0), options))
        {
            if (x % 100 == 0)
            {
                Interlocked.Increment(ref result == -1 ? ref notPromoted : ref promoted);
            }
            Check(result == -1 || result == TieringChurn.Expected(x), $"element {x}: wrong result {result}");
            sum += 2L * x++;
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
