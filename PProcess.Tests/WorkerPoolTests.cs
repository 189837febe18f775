using Mono.Unix.Native;
using PProcess.Pools;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>The pre-forked worker pool: per-worker state, order, failures, dead workers, threads that submit.</summary>
public class WorkerPoolTests
{
    /// <summary>A worker's state: its slot and how many jobs it has served (it lives as long as the worker).</summary>
    public sealed class Counter(int index, string? disposedMarker) : IDisposable
    {
        public int Index { get; } = index;

        public int Served { get; set; }

        public void Dispose()
        {
            if (disposedMarker is not null)
            {
                File.WriteAllText($"{disposedMarker}.{Index}", Served.ToString());
            }
        }
    }

    private static string Tag(Counter state, int x) => $"{x}:{state.Index}:{Environment.ProcessId}:{++state.Served}";

    private static int Square(int x) => x * x;

    public sealed class Node
    {
        public Node? Next { get; set; }
    }

    private static int Hops(Node node) => node.Next is null ? 0 : 1;

    private static int Length(string s) => s.Length;

    private static int ThrowOnThree(int x) => x == 3 ? throw new InvalidOperationException($"three is not allowed ({x})") : Environment.ProcessId;

    private static int KillSelf(int signal)
    {
        Syscall.kill(Environment.ProcessId, (Signum)signal);
        return -1;
    }

    [Fact]
    public void JobsRunInPreForkedWorkersWithStateThatLivesAsLongAsTheWorkerAndResultsComeInOrder() =>
        IsolatedProcess.Passes(StateScenario);

    private static void StateScenario()
    {
        string marker = Path.Combine(Path.GetTempPath(), $"pool-dispose-{Environment.ProcessId}");
        var pool = new WorkerPool<Counter>(i => new Counter(i, marker), new WorkerPoolOptions { Workers = 2 });
        var initial = pool.WorkerPids.ToArray();
        Assert.Equal(2, initial.Length);
        var tags = pool.Map(Tag, Enumerable.Range(0, 40));
        var parts = tags.Select(t => t.Split(':').Select(int.Parse).ToArray()).ToArray();
        Assert.Equal(Enumerable.Range(0, 40), parts.Select(p => p[0]));
        // Every job ran in one of the workers forked at creation, never in the parent.
        Assert.All(parts, p => Assert.Contains(p[2], initial));
        Assert.Equal(2, parts.Select(p => p[2]).Distinct().Count());
        // One state per worker: its slot is fixed, and its count of served jobs goes 1, 2, 3... in that worker.
        foreach (var byPid in parts.GroupBy(p => p[2]))
        {
            Assert.Single(byPid.Select(p => p[1]).Distinct());
            Assert.Equal(Enumerable.Range(1, byPid.Count()), byPid.Select(p => p[3]).Order());
        }
        Assert.Equal(9, pool.Run(Square, 3));
        var asyncTags = pool.MapAsync(Tag, Enumerable.Range(100, 6)).GetAwaiter().GetResult();
        Assert.Equal(Enumerable.Range(100, 6), asyncTags.Select(t => int.Parse(t.Split(':')[0])));
        pool.Dispose();
        // Disposing told each worker to end, and each disposed its state (the database connection, say).
        int total = 0;
        for (int i = 0; i < 2; i++)
        {
            total += int.Parse(File.ReadAllText($"{marker}.{i}"));
            File.Delete($"{marker}.{i}");
        }
        Assert.Equal(46, total);
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.Throws<ObjectDisposedException>(() => pool.Run(Square, 2));
    }

    [Theory]
    [InlineData(ChannelTransportKind.SharedMemory)]
    [InlineData(ChannelTransportKind.Socket)]
    public void EachTransportCarriesJobsAndResultsInOrder(ChannelTransportKind transport) =>
        IsolatedProcess.Passes(transport == ChannelTransportKind.Socket ? SocketPoolScenario : SharedMemoryPoolScenario);

    private static void SocketPoolScenario() => TransportScenario(ChannelTransportKind.Socket, eventFdsPerWorker: 0);

    private static void SharedMemoryPoolScenario() => TransportScenario(ChannelTransportKind.SharedMemory, eventFdsPerWorker: 4);

    private static void TransportScenario(ChannelTransportKind transport, int eventFdsPerWorker)
    {
        Assert.Equal(ChannelTransportKind.SharedMemory, new WorkerPoolOptions().Transport);
        using var pool = new WorkerPool(new WorkerPoolOptions { Workers = 2, Transport = transport });
        // Many jobs in flight at once on two workers: each result is read only when it is there.
        Assert.Equal(Enumerable.Range(0, 200).Select(i => i * i), pool.Map(Square, Enumerable.Range(0, 200)));
        // Shared-memory channels wake their reader through eventfds (four at the parent's end); socket channels have
        // none. The pool's own loop has one, through which a submitting thread wakes it.
        var descriptors = ProcFs.OpenDescriptors();
        int eventFds = descriptors.Values.Count(target => target.Contains("eventfd"));
        // The list says which descriptor it was, if this fails (it did once in 378 tests under load, not again in 11 reruns).
        Assert.True(1 + 2 * eventFdsPerWorker == eventFds,
            $"eventfds expected: {1 + 2 * eventFdsPerWorker}; open: {string.Join(", ", descriptors.Select(d => $"{d.Key} -> {d.Value}"))}");
    }

    [Fact]
    public void AJobsExceptionCarriesTheWorkersStackAndTheWorkerServesOn() => IsolatedProcess.Passes(ThrowScenario);

    private static void ThrowScenario()
    {
        using var pool = new WorkerPool(new WorkerPoolOptions { Workers = 1 });
        int pid = pool.Run(ThrowOnThree, 1);
        var e = Assert.Throws<RemoteException>(() => pool.Run(ThrowOnThree, 3));
        Assert.Equal(typeof(InvalidOperationException).FullName, e.RemoteType);
        Assert.Contains("three is not allowed (3)", e.RemoteMessage);
        Assert.Contains(nameof(ThrowOnThree), e.RemoteStackTrace);
        Assert.Equal(pid, pool.Run(ThrowOnThree, 4));
        // Arguments that cannot be serialised fail that job at once, with the type named; nothing reached the worker.
        var cycle = new Node();
        cycle.Next = cycle;
        var bad = Assert.Throws<ChannelSerializationException>(() => pool.Run(Hops, cycle));
        Assert.Contains(nameof(Node), bad.Message);
        Assert.Equal(pid, pool.Run(ThrowOnThree, 5));
        Assert.Equal(0, pool.Replacements);
    }

    [Fact]
    public void AnInitializerThatThrowsFailsTheConstructorWithTheWorkersException() => IsolatedProcess.Passes(InitializerScenario);

    private static void InitializerScenario()
    {
        var e = Assert.Throws<RemoteException>(() => new WorkerPool<int>(i => i == 1 ? throw new FileNotFoundException("no database") : i,
            new WorkerPoolOptions { Workers = 2 }));
        Assert.Equal(typeof(FileNotFoundException).FullName, e.RemoteType);
        Assert.Contains("no database", e.RemoteMessage);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ADeadWorkerFailsItsJobAndIsReplacedWhileThreadsKeepSubmitting() => IsolatedProcess.Passes(DeadWorkerScenario);

    private static void DeadWorkerScenario()
    {
        using var pool = new WorkerPool(new WorkerPoolOptions { Workers = 2 });
        var initial = pool.WorkerPids.ToArray();
        // Four threads submit concurrently (a busy host); none of them forks.
        var errors = new List<Exception>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            try
            {
                for (int i = 0; i < 50; i++)
                {
                    Assert.Equal((t * 100 + i) * (t * 100 + i), pool.Run(Square, t * 100 + i));
                }
            }
            catch (Exception e)
            {
                lock (errors)
                {
                    errors.Add(e);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        // Meanwhile a job kills its worker.
        var died = Assert.Throws<ChildExitedException>(() => pool.Run(KillSelf, (int)Signum.SIGKILL));
        Assert.Equal(9, died.Signal);
        Assert.Contains(nameof(KillSelf), died.Message);
        Assert.Contains(died.Pid, initial);
        threads.ForEach(t => t.Join());
        Assert.Empty(errors);
        // The replacement is forked from the pool's thread after the quiescence wait; on a loaded machine a first
        // attempt may be refused (threads waiting for a CPU show as running), and a later one succeeds.
        Eventually.True(() => pool.Replacements > 0, "the dead worker's replacement", between: () =>
        {
            Assert.Equal(4, pool.Run(Square, 2));
            Thread.Sleep(1);
        });
        Assert.Equal(1, pool.Replacements);
        Assert.True(pool.LastReplacementError is null or ForkSafetyException, pool.LastReplacementError?.ToString());
        Assert.Equal(2, pool.WorkerPids.Count);
        Assert.DoesNotContain(died.Pid, pool.WorkerPids);
        Assert.Equal(Enumerable.Range(0, 8).Select(x => x * x), pool.Map(Square, Enumerable.Range(0, 8)));
    }

    [Fact]
    public void AReplacementWaitsWhileAnotherThreadComputesWithoutPauseAndTheOtherWorkersServeMeanwhile() =>
        IsolatedProcess.Passes(SpinningScenario);

    private static void SpinningScenario()
    {
        using var pool = new WorkerPool(new WorkerPoolOptions { Workers = 2 });
        var stop = 0;
        var spinner = new Thread(() =>
        {
            long x = 0;
            while (Volatile.Read(ref stop) == 0)
            {
                x++;
            }
            GC.KeepAlive(x);
        });
        spinner.Start();
        Assert.Throws<ChildExitedException>(() => pool.Run(KillSelf, (int)Signum.SIGKILL));
        // A thread that never sleeps is never quiescent: the pool refuses to fork (rule 3) and keeps serving with one worker.
        Eventually.True(() => pool.FailedReplacements > 0, "a refused replacement", between: () => Assert.Equal(25, pool.Run(Square, 5)));
        Assert.Equal(0, pool.Replacements);
        Assert.Single(pool.WorkerPids);
        Assert.IsType<ForkSafetyException>(pool.LastReplacementError);
        Volatile.Write(ref stop, 1);
        spinner.Join();
        // Once it stops, the next attempt (after the back-off) forks the replacement.
        Eventually.True(() => pool.Replacements > 0, "the replacement once the spinner stopped", between: () =>
        {
            Assert.Equal(36, pool.Run(Square, 6));
            Thread.Sleep(1);
        });
        Assert.Equal(2, pool.WorkerPids.Count);
    }

    [Fact]
    public void APoolMadeOnAThreadThatEndsKeepsItsWorkers() => IsolatedProcess.Passes(ThreadEndsScenario);

    /// <summary>A child dies with the thread that forked it (fork-safety fact 15): the pool forks on its own thread.</summary>
    private static void ThreadEndsScenario()
    {
        WorkerPool? pool = null;
        var maker = new Thread(() => pool = new WorkerPool(new WorkerPoolOptions { Workers = 2 }));
        maker.Start();
        maker.Join();
        using (pool)
        {
            var initial = pool!.WorkerPids.ToArray();
            // Had the workers been forked on the ended thread, they would have been killed by now or during these jobs.
            for (int round = 0; round < 5; round++)
            {
                Assert.Equal(Enumerable.Range(0, 20).Select(x => x * x), pool.Map(Square, Enumerable.Range(0, 20)));
            }
            Assert.Equal(0, pool.Replacements);
            Assert.Equal(initial, pool.WorkerPids);
            Assert.All(initial, pid => Assert.Equal(0, Syscall.kill(pid, 0)));
        }
    }

    [Fact]
    public void AJobMustBeSendable()
    {
        int captured = 5;
        var e = Assert.Throws<ArgumentException>(() => PoolJob.Of((Func<int, int>)(x => x + captured), "job"));
        Assert.Contains("captures nothing", e.Message);
        // A static method and a lambda that captures nothing are both found again by id, as a worker does.
        var stat = PoolJob.Of((Func<int, int>)Square, "job");
        Assert.Same(stat.Method, PoolJob.Resolve(stat.Id).Method);
        var bound = Delegate.CreateDelegate(typeof(Func<int>), "abc", typeof(WorkerPoolTests).GetMethod(nameof(Length), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!);
        Assert.Throws<ArgumentException>(() => PoolJob.Of(bound, "job"));
        var lambda = PoolJob.Of((Func<int, int>)(x => x + 1), "job");
        Assert.Equal(4, lambda.Invoke([3]));
    }

    [Fact]
    public void TheLoadGuardReadsProcLoadavg()
    {
        Assert.Equal((0.52, 1.5, 12.25), LoadAverage.Parse("0.52 1.50 12.25 3/467 12345\n"));
        Assert.Throws<FormatException>(() => LoadAverage.Parse("garbage"));
        // Read is /proc/loadavg's first three fields, as the file says them just before or just after (it changes every 5 s).
        var before = LoadAverage.Parse(File.ReadAllText("/proc/loadavg"));
        var read = LoadAverage.Read();
        var after = LoadAverage.Parse(File.ReadAllText("/proc/loadavg"));
        Assert.True(read == before || read == after, $"Read() gave {read}; /proc/loadavg said {before}, then {after}");
        Assert.True(LoadAverage.Allows(null));
        Assert.True(LoadAverage.Allows(1e9));
        Assert.Throws<ArgumentOutOfRangeException>(() => LoadAverage.Allows(-1));
        // multicore's threshold is per core: a load of 3 on 4 cores passes 0.75 and fails 0.7.
        Assert.True(LoadAverage.Allows(0.75, 3.0, 4));
        Assert.False(LoadAverage.Allows(0.7, 3.0, 4));
    }

    [Fact]
    public void BadOptionsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(new WorkerPoolOptions { Workers = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPool(new WorkerPoolOptions { Transport = (ChannelTransportKind)7 }));
    }
}
