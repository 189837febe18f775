using System.Diagnostics;
using System.Globalization;
using Mono.Unix.Native;
using PProcess.Mpi;

namespace PProcess.Examples.Programs;

/// <summary>
/// chaos: a map during which a process of its own (a forked child) SIGKILLs a random child of this
/// process every few milliseconds (issue 23's soak). With retries, every element's result must arrive exactly once
/// and in order; with outcomes, every failed element must be a child killed by that thread
/// (SIGKILL, a pid it killed) and every other result must arrive. The same through a
/// <see cref="WorkerPool{TState}"/>. Prints a table (markdown) and exits 1 if a check failed.
/// With --mpi, under mpiexec: PMapAcrossRanks with retries, each rank's children killed by a
/// killer of that rank; rank 0 checks the results.
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

        Measure("PMap, Retries", count, everyMs, () =>
        {
            long expected = 0;
            foreach (var r in source.PMap(Work, new PMapOptions { Limit = limit, Retries = retries }))
            {
                Check(r == 3L * expected, $"PMap: result {r} where {3L * expected} was due");
                expected++;
            }
            Check(expected == count, $"PMap: {expected} results of {count}");
            return [];
        });
        Measure("PMapOutcomes", count, everyMs, () => CheckOutcomes("PMapOutcomes", source.PMapOutcomes(Work, new PMapOptions { Limit = limit }), count));

        using var pool = new WorkerPool<object?>(null, new WorkerPoolOptions { Workers = limit, Retries = retries });
        int jobs = Math.Max(1, count / 10);
        Measure("WorkerPool.Map, Retries", jobs, everyMs, () =>
        {
            var results = pool.Map(Work, source.Take(jobs));
            Check(results.Length == jobs && results.Select((r, i) => r == 3L * i).All(ok => ok), "WorkerPool.Map: a result is missing or wrong");
            return [];
        });
        using var bare = new WorkerPool<object?>(null, new WorkerPoolOptions { Workers = limit });
        Measure("WorkerPool.MapOutcomes", jobs, everyMs, () => CheckOutcomes("WorkerPool.MapOutcomes", bare.MapOutcomes(Work, source.Take(jobs)), jobs));
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
        Measure($"PMapAcrossRanks ({MpiWorld.Size} ranks; rank {rank}'s kills), Retries", source.Length, everyMs, () =>
        {
            var results = source.PMapAcrossRanks(Work, new MpiPMapOptions { Limit = limit, Retries = retries });
            if (rank == 0)
            {
                Check(results.Failure is null, $"PMapAcrossRanks: {results.Failure}");
                Check(results.Completed == source.Length && results.Select((r, i) => r == 3L * i).All(ok => ok),
                    "PMapAcrossRanks: a result is missing or wrong");
            }
            return [];
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

    /// <summary>Each index once, in order; every other result right. Returns the failures, which <see cref="Measure"/> checks against the kills.</summary>
    private static List<(long Index, Exception Error)> CheckOutcomes(string run, IEnumerable<Outcome<long>> outcomes, int count)
    {
        long expected = 0;
        var failures = new List<(long, Exception)>();
        foreach (var o in outcomes)
        {
            Check(o.Index == expected, $"{run}: outcome of #{o.Index} where #{expected} was due");
            if (o.Succeeded)
            {
                Check(o.Value == 3L * o.Index, $"{run}: #{o.Index} is {o.Value}");
            }
            else
            {
                failures.Add((o.Index, o.Exception!));
            }
            expected++;
        }
        Check(expected == count, $"{run}: {expected} outcomes of {count}");
        return failures;
    }

    /// <summary>Runs <paramref name="body"/> while a killer kills children; then checks that each failed element was a child it killed (SIGKILL), and prints a row.</summary>
    private static void Measure(string run, int count, int everyMs, Func<List<(long Index, Exception Error)>> body)
    {
        var clock = Stopwatch.StartNew();
        int failures = -1;
        bool before = failed;
        using var killer = new Killer(everyMs);
        try
        {
            var errors = body();
            failures = errors.Count;
            killer.Stop();
            foreach (var (index, error) in errors)
            {
                Check(error is ChildExitedException { Signal: 9 } death && killer.Killed(death.Pid),
                    $"{run}: #{index} failed otherwise than by a kill: {error}");
            }
        }
        catch (Exception e)
        {
            Check(false, $"{run}: {e.GetType().Name}: {e.Message}");
        }
        int kills = killer.Stop();
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

    /// <summary>
    /// A child of this process (forked through PProcess) that SIGKILLs a random other child of this
    /// process every few milliseconds, and says whom when told to stop. A process of its own, not a
    /// thread: a thread of the parent that wakes every few milliseconds would run during the
    /// parent's forks, which the fork path refuses (fork-safety rule 18), and the soak is about
    /// children that die, not about forks refused.
    /// </summary>
    private sealed class Killer : IDisposable
    {
        private readonly Channel channel;
        private HashSet<int>? killed;

        internal Killer(int everyMs) => channel = Fork.Start((c, ms) => Loop(c, ms), everyMs);

        internal bool Killed(int pid) => killed?.Contains(pid) ?? false;

        /// <summary>Stops the killer; returns how many children it killed.</summary>
        internal int Stop()
        {
            if (killed is null)
            {
                channel.Send("stop");
                killed = [.. channel.Receive<int[]>()];
            }
            return killed.Count;
        }

        public void Dispose()
        {
            Stop();
            channel.Dispose();
        }

        private static void Loop(Channel channel, int everyMs)
        {
            int self = Syscall.getpid();
            int parent = Syscall.getppid();
            var random = new Random(23);
            var killed = new List<int>();
            while (!channel.Poll(TimeSpan.FromMilliseconds(everyMs)))
            {
                var children = Children(parent);
                children.Remove(self);
                if (children.Count > 0 && children[random.Next(children.Count)] is var pid && Syscall.kill(pid, Signum.SIGKILL) == 0)
                {
                    killed.Add(pid);
                }
            }
            channel.Receive();
            channel.Send(killed.ToArray());
        }

        /// <summary>The children of <paramref name="parent"/>, from each of its threads' /proc children list.</summary>
        private static List<int> Children(int parent)
        {
            var pids = new List<int>();
            foreach (var task in Directory.EnumerateDirectories($"/proc/{parent}/task"))
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
