using System.Diagnostics;
using Mono.Unix.Native;

namespace PProcess.Examples.Programs;

/// <summary>
/// worker_pool: multicore's README. A pool is made once, early; its workers keep a state made by
/// the initializer (here, a per-worker memo table). Jobs are rendered by ranges, sequentially and
/// through the pool, and compared. With --max-load X the load guard may choose the sequential path.
/// With --kill, threads submit while a worker is killed, and the replacement is timed.
/// </summary>
public static class WorkerPoolExample
{
    /// <summary>A worker's state: it lives as long as the worker (a database connection in a real program).</summary>
    public sealed class Memo
    {
        public int Worker { get; init; }

        public Dictionary<int, string> Seen { get; } = [];
    }

    private static string AsString(int item) => item.ToString();

    private static string ExpensiveAsString(int item, TimeSpan delay)
    {
        Thread.Sleep(delay);
        return item.ToString();
    }

    private static string MultiExpensiveAsString(Memo memo, (int Start, int End, long DelayTicks) range)
    {
        var parts = new List<string>();
        for (int item = range.Start; item < range.End; item++)
        {
            if (!memo.Seen.TryGetValue(item, out var text))
            {
                memo.Seen[item] = text = ExpensiveAsString(item, TimeSpan.FromTicks(range.DelayTicks));
            }
            parts.Add(text);
        }
        return string.Join(",", parts);
    }

    private static int Square(int x) => x * x;

    private static int Die(int signal)
    {
        Syscall.kill(Environment.ProcessId, (Signum)signal);
        return 0;
    }

    public static void Run(Options options)
    {
        var delay = options.DelayOr(TimeSpan.FromMilliseconds(10));
        int items = 100;
        // 1. Created once, while the process is quiescent.
        using var pool = new WorkerPool<Memo>(i => new Memo { Worker = i }, new WorkerPoolOptions { Workers = options.LimitGiven ? options.Limit : Cores.Usable });
        Console.WriteLine($"workers: {string.Join(" ", pool.WorkerPids)}");

        // Example 1: trivial (and slightly pointless).
        Console.WriteLine(string.Join(", ", pool.Map(AsString, Enumerable.Range(0, 20))));

        // Example 2: ranges, sequential and through the pool, side by side.
        var ranges = Enumerable.Range(0, pool.Size * 2).Select(p => (items * p / (pool.Size * 2), items * (p + 1) / (pool.Size * 2), delay.Ticks)).ToArray();
        var clock = Stopwatch.StartNew();
        var sequential = string.Join(",", ranges.Select(r => MultiExpensiveAsString(new Memo(), r)));
        double sequentialMs = clock.Elapsed.TotalMilliseconds;
        double? maxLoad = options.Rest.SkipWhile(a => a != "--max-load").Skip(1).Select(a => (double?)double.Parse(a, System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
        clock.Restart();
        string parallel;
        string path;
        if (pool.IsWorthIt(maxLoad))
        {
            parallel = string.Join(",", pool.Map(MultiExpensiveAsString, ranges));
            path = "pool";
        }
        else
        {
            parallel = string.Join(",", ranges.Select(r => MultiExpensiveAsString(new Memo(), r)));
            path = "sequential (load guard)";
        }
        double parallelMs = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine(parallel);
        Console.WriteLine($"same result: {parallel == sequential}; load per core {LoadAverage.PerCore():0.00}; path: {path}");
        Console.WriteLine($"sequential {sequentialMs:0.0} ms, {path} {parallelMs:0.0} ms, ratio {sequentialMs / parallelMs:0.00}x");

        if (options.Rest.Contains("--kill"))
        {
            KillAndReplace(pool);
        }
        if (options.Rest.Contains("--kill-while-spinning"))
        {
            KillWhileSpinning(pool);
        }
    }

    /// <summary>
    /// Two threads compute without pause (never asleep, so never quiescent) while a job kills its
    /// worker: the pool cannot fork a replacement until they stop. Measures both halves.
    /// </summary>
    private static void KillWhileSpinning(WorkerPool<Memo> pool)
    {
        int before = pool.Replacements;
        using var stop = new CancellationTokenSource();
        var spinners = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            long x = 0;
            while (!stop.IsCancellationRequested)
            {
                x++;
            }
            GC.KeepAlive(x);
        })).ToList();
        spinners.ForEach(t => t.Start());
        try
        {
            pool.Run(Die, (int)Signum.SIGKILL);
        }
        catch (ChildExitedException)
        {
        }
        var clock = Stopwatch.StartNew();
        int served = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            pool.Run(Square, 3);      // the surviving workers keep serving meanwhile
            served++;
        }
        Console.WriteLine($"while 2 threads spun for 2 s: replacements {pool.Replacements - before}, refused attempts {pool.FailedReplacements}, " +
            $"jobs served by the other workers {served}; last refusal: {pool.LastReplacementError?.GetType().Name}");
        stop.Cancel();
        spinners.ForEach(t => t.Join());
        clock.Restart();
        while (pool.Replacements == before && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(1);
        }
        Console.WriteLine($"after they stopped: replacement {(pool.Replacements > before ? "forked" : "still missing")} {clock.Elapsed.TotalMilliseconds:0.0} ms later");
    }

    /// <summary>Four threads submit while a job kills its worker: how long until the pool has its workers back?</summary>
    private static void KillAndReplace(WorkerPool<Memo> pool)
    {
        using var stop = new CancellationTokenSource();
        long submitted = 0;
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                pool.Run(Square, t);
                Interlocked.Increment(ref submitted);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        var clock = Stopwatch.StartNew();
        try
        {
            pool.Run(Die, (int)Signum.SIGKILL);
        }
        catch (ChildExitedException e)
        {
            Console.WriteLine($"job failed as expected: {e.Message}");
        }
        // Polled every 5 ms: a thread that woke every millisecond would run during every fork
        // (a fork takes milliseconds) and leave the pool no safe moment (fork-safety rule 18).
        while (pool.Replacements == 0 && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(5);
        }
        Console.WriteLine($"replacement: {(pool.Replacements > 0 ? "forked" : "failed: " + pool.LastReplacementError?.Message)} " +
            $"{clock.Elapsed.TotalMilliseconds:0.0} ms after the kill ({pool.FailedReplacements} refused attempts), while 4 threads submitted {Interlocked.Read(ref submitted)} jobs");
        stop.Cancel();
        threads.ForEach(t => t.Join());
        Console.WriteLine($"workers now: {string.Join(" ", pool.WorkerPids)}");
    }
}
