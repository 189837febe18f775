using System.Diagnostics;
using System.Globalization;
using Mono.Unix.Native;
using PProcess.Mpi;

namespace PProcess.Examples.Programs;

/// <summary>
/// chaos: a map during which a thread of its own SIGKILLs a random child of this process every few
/// milliseconds (issue 23's soak). With retries, every element's result must arrive exactly once
/// and in order; with outcomes, every failed element must be a child killed by that thread
/// (SIGKILL, a pid it killed) and every other result must arrive. The same through a
/// <see cref="WorkerPool{TState}"/>. Prints a table (markdown) and exits 1 if a check failed.
/// With --mpi, under mpiexec: PMapAcrossRanks with retries, each rank's children killed by a
/// thread of that rank; rank 0 checks the results.
/// Usage: chaos [--count N] [--work-us U] [--every-ms M] [--retries R] [--limit N] [--mpi]
/// (defaults 100000 elements of 100 µs of work, a kill every 10 ms, 5 retries, the usable cores).
/// </summary>
public static class Chaos
{
    /// <summary>The work per element, in µs of spinning; set before the pool forks, so its workers see it.</summary>
    private static int workMicroseconds;

    private static bool failed;

    public static void Run(Options options)
    {
        var extra = new ExtraArguments(options.Rest, "usage: chaos [--count N] [--work-us U] [--every-ms M] [--retries R] [--limit N] [--mpi]");
        bool acrossRanks = extra.Flag("--mpi");
        int count = extra.Int("--count", 100_000, 1);
        workMicroseconds = extra.Int("--work-us", 100, 0);
        int everyMs = extra.Int("--every-ms", 10, 1);
        int retries = extra.Int("--retries", 5, 1);
        extra.ThrowIfAnyLeft();
        int limit = options.LimitGiven ? options.Limit : Cores.Usable;
        Console.WriteLine($"chaos: {count} elements of {workMicroseconds} µs, {limit} children, a random child SIGKILLed every {everyMs} ms, retries {retries}");
        Console.WriteLine("| run | elements | kills | elements failed | seconds | check |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var source = Enumerable.Range(0, count).ToArray();
        if (acrossRanks)
        {
            AcrossRanks(source, limit, everyMs, retries);
            return;
        }

        Measure("PMap, Retries", count, everyMs, killer =>
        {
            long expected = 0;
            foreach (var r in source.PMap(Work, new PMapOptions { Limit = limit, Retries = retries }))
            {
                Check(r == 3L * expected, $"PMap: result {r} where {3L * expected} was due");
                expected++;
            }
            Check(expected == count, $"PMap: {expected} results of {count}");
            return 0;
        });
        Measure("PMapOutcomes", count, everyMs, killer => CheckOutcomes("PMapOutcomes", source.PMapOutcomes(Work, new PMapOptions { Limit = limit }), count, killer));

        using var pool = new WorkerPool<object?>(null, new WorkerPoolOptions { Workers = limit, Retries = retries });
        int jobs = Math.Max(1, count / 10);
        Measure("WorkerPool.Map, Retries", jobs, everyMs, killer =>
        {
            var results = pool.Map(Work, source.Take(jobs));
            Check(results.Length == jobs && results.Select((r, i) => r == 3L * i).All(ok => ok), "WorkerPool.Map: a result is missing or wrong");
            return 0;
        });
        using var bare = new WorkerPool<object?>(null, new WorkerPoolOptions { Workers = limit });
        Measure("WorkerPool.MapOutcomes", jobs, everyMs, killer => CheckOutcomes("WorkerPool.MapOutcomes", bare.MapOutcomes(Work, source.Take(jobs)), jobs, killer));
        Console.WriteLine(failed ? "chaos: FAILED" : "chaos: ok (every result once, in order; every failure a killed child)");
        if (failed)
        {
            Environment.ExitCode = 1;
        }
    }

    /// <summary>PMapAcrossRanks with retries while each rank's killer kills that rank's children; rank 0 checks every result.</summary>
    private static void AcrossRanks(int[] source, int limit, int everyMs, int retries)
    {
        int rank = MpiWorld.Rank;
        Measure($"PMapAcrossRanks ({MpiWorld.Size} ranks; rank {rank}'s kills), Retries", source.Length, everyMs, killer =>
        {
            var results = source.PMapAcrossRanks(Work, new MpiPMapOptions { Limit = limit, Retries = retries });
            if (rank == 0)
            {
                Check(results.Failure is null, $"PMapAcrossRanks: {results.Failure}");
                Check(results.Completed == source.Length && results.Select((r, i) => r == 3L * i).All(ok => ok),
                    "PMapAcrossRanks: a result is missing or wrong");
            }
            return 0;
        });
        Console.WriteLine(failed ? $"chaos: rank {rank} FAILED" : $"chaos: rank {rank} ok (every result once, in order)");
        if (failed)
        {
            Environment.ExitCode = 1;
        }
    }

    private static long Work(int x)
    {
        long until = Stopwatch.GetTimestamp() + workMicroseconds * Stopwatch.Frequency / 1_000_000;
        while (Stopwatch.GetTimestamp() < until)
        {
        }
        return 3L * x;
    }

    /// <summary>Each index once, in order; each failure a SIGKILL of a pid the killer killed; every other result right. Returns the failures.</summary>
    private static int CheckOutcomes(string run, IEnumerable<Outcome<long>> outcomes, int count, Killer killer)
    {
        long expected = 0;
        int failures = 0;
        foreach (var o in outcomes)
        {
            Check(o.Index == expected, $"{run}: outcome of #{o.Index} where #{expected} was due");
            if (o.Succeeded)
            {
                Check(o.Value == 3L * o.Index, $"{run}: #{o.Index} is {o.Value}");
            }
            else
            {
                failures++;
                Check(o.Exception is ChildExitedException { Signal: 9 } death && killer.Killed(death.Pid),
                    $"{run}: #{o.Index} failed otherwise than by a kill: {o.Exception}");
            }
            expected++;
        }
        Check(expected == count, $"{run}: {expected} outcomes of {count}");
        return failures;
    }

    private static void Measure(string run, int count, int everyMs, Func<Killer, int> body)
    {
        var clock = Stopwatch.StartNew();
        int failures;
        int kills;
        bool before = failed;
        using (var killer = new Killer(everyMs))
        {
            try
            {
                failures = body(killer);
            }
            catch (Exception e)
            {
                Check(false, $"{run}: {e.GetType().Name}: {e.Message}");
                failures = -1;
            }
            kills = killer.Stop();
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {run} | {count} | {kills} | {failures} | {clock.Elapsed.TotalSeconds:0.0} | {(failed == before ? "ok" : "FAILED")} |"));
    }

    private static void Check(bool ok, string what)
    {
        if (!ok && !failed)
        {
            Console.WriteLine($"chaos: {what}");
        }
        failed |= !ok;
    }

    /// <summary>A thread that SIGKILLs a random child of this process every few milliseconds, and remembers whom.</summary>
    private sealed class Killer : IDisposable
    {
        private readonly HashSet<int> killed = [];
        private readonly Thread thread;
        private readonly int everyMs;
        private volatile bool stopping;

        internal Killer(int everyMs)
        {
            this.everyMs = everyMs;
            thread = new Thread(Loop) { IsBackground = true, Name = "chaos killer" };
            thread.Start();
        }

        internal bool Killed(int pid)
        {
            lock (killed)
            {
                return killed.Contains(pid);
            }
        }

        /// <summary>Stops the thread; returns how many children it killed.</summary>
        internal int Stop()
        {
            stopping = true;
            thread.Join();
            lock (killed)
            {
                return killed.Count;
            }
        }

        public void Dispose() => Stop();

        private void Loop()
        {
            var random = new Random(23);
            while (!stopping)
            {
                Thread.Sleep(everyMs);
                var children = Children();
                if (children.Count == 0)
                {
                    continue;
                }
                int pid = children[random.Next(children.Count)];
                lock (killed)
                {
                    if (Syscall.kill(pid, Signum.SIGKILL) == 0)
                    {
                        killed.Add(pid);
                    }
                }
            }
        }

        /// <summary>This process's children, from each thread's /proc children list.</summary>
        private static List<int> Children()
        {
            var pids = new List<int>();
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                try
                {
                    foreach (var field in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    {
                        pids.Add(int.Parse(field, CultureInfo.InvariantCulture));
                    }
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }
            return pids;
        }
    }
}
