using System.Runtime.InteropServices;
using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>Children that fail: each surfaces as a clear exception naming the child, its status and its job.</summary>
public abstract partial class FailureTests : TransportScenarios
{
    [Fact]
    public void ChildKilledBySigkillIsReportedWithItsPidSignalAndJob() => Passes(SigkillScenario);

    private static void SleepingJob(Channel channel, string name)
    {
        channel.Send("ready");
        Thread.Sleep(TimeSpan.FromMinutes(5));
    }

    private static void SigkillScenario()
    {
        using var exchange = new Collecting(limit: 2);
        exchange.Start(SleepingJob, "victim");
        var channel = Assert.Single(exchange.Active());
        Assert.Equal("ready", channel.Receive<string>());
        Syscall.kill(channel.Pid, Signum.SIGKILL);
        var error = Assert.Throws<ChildExitedException>(() => exchange.Finish());
        Assert.Equal(9, error.Signal);
        Assert.Equal(channel.Pid, error.Pid);
        Assert.Contains("SIGKILL", error.Message);
        Assert.Contains(channel.Pid.ToString(), error.Message);
        Assert.Contains("SleepingJob", error.Message);
        Assert.Contains("victim", error.Job);
        Assert.False(exchange.Unfinished());
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AChildThatDiesMidMessageIsReportedWithItsSignalAndOneThatExitsIsAProtocolError() => Passes(MidMessageScenario);

    /// <summary>
    /// In the child: announces an 8 MiB byte array and sends only 3 MiB of it (more than a
    /// shared-memory ring holds, so the bytes stream while the parent reads), then ends.
    /// </summary>
    private static void DieMidMessage(Channel channel, bool kill)
    {
        Span<byte> header = stackalloc byte[PProcess.Channels.Frame.HeaderSize];
        PProcess.Channels.Frame.WriteHeader(header, PProcess.Channels.FrameKind.Value, 2 /* bytes */, 8 << 20);
        channel.WriteRaw(header);
        channel.WriteRaw(new byte[3 << 20]);
        if (kill)
        {
            Syscall.kill(Syscall.getpid(), Signum.SIGKILL);
        }
        Fork.Exit(channel);
    }

    private static void MidMessageScenario()
    {
        var mappings = ProcFs.SharedAnonymousMappings();
        using (var exchange = new Collecting(limit: 1))
        {
            exchange.Start(DieMidMessage, true);
            var killed = Assert.Throws<ChildExitedException>(() => exchange.Finish());
            Assert.Equal(9, killed.Signal);
            Assert.Contains("in the middle of a message", killed.Message);
            Assert.Contains($"after {3 << 20} of {8 << 20} bytes", killed.Message);
            Assert.Contains("DieMidMessage", killed.Job);
            Assert.Empty(exchange.Results);
        }
        using var channel = Fork.Start(c => DieMidMessage(c, kill: false));
        var cut = Assert.Throws<ChannelProtocolException>(() => channel.Receive());
        Assert.Contains("exited with code 0 in the middle of a message", cut.Message);
        // The channel is unusable afterwards, and says why.
        var again = Assert.Throws<ChannelProtocolException>(() => channel.Receive());
        Assert.Contains("truncated", again.Message);
        channel.Dispose();
        Assert.True(ProcFs.NoChildrenLeft());
        // A channel dropped after a broken message releases its region too.
        Assert.Equal(mappings, ProcFs.SharedAnonymousMappings());
    }

    [LibraryImport("libc", EntryPoint = "strlen")]
    private static partial nuint StrLen(nint s);

    [LibraryImport("libc", EntryPoint = "abort")]
    private static partial void Abort();

    private static void SegfaultingJob(Channel channel) => channel.Send((long)StrLen(0));

    [Fact]
    public void AChildThatDiesIsReportedWhileAnotherThreadForksLongLivedChildren() => Passes(SiblingForksScenario);

    /// <summary>
    /// One thread forks children that die at once; another forks, at the same time, children that
    /// live until told to stop. No long-lived child may hold an end of a dying child's channel (it
    /// would keep the parent from seeing that child's end of stream for as long as it lives).
    /// </summary>
    private static void SiblingForksScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        int keepers = 0;
        using var stop = new ManualResetEventSlim();
        // The keepers are stopped by the thread that forked them: a child dies with that thread (rule 15).
        var forker = new Thread(() =>
        {
            var alive = new List<Channel>();
            while (!stop.IsSet)
            {
                alive.Add(Fork.Start(c => c.Receive()));
            }
            foreach (var keeper in alive)
            {
                keeper.Send(0);
                keeper.Wait();
                keeper.Dispose();
            }
            keepers = alive.Count;
        });
        forker.Start();
        try
        {
            for (int i = 0; i < 60; i++)
            {
                using var dying = Fork.Start(_ => Syscall.kill(Syscall.getpid(), Signum.SIGKILL));
                var error = Assert.Throws<ChildExitedException>(() => dying.Receive());
                Assert.Equal(9, error.Signal);
            }
        }
        finally
        {
            stop.Set();
            forker.Join();
        }
        Assert.True(keepers > 0);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildThatSegfaultsInNativeCodeIsReported() => Passes(SegfaultScenario);

    private static void SegfaultScenario()
    {
        using var exchange = new Collecting(limit: 2);
        exchange.Start(c => c.Send("fine"));
        exchange.Start(SegfaultingJob);
        var error = Assert.Throws<ChildExitedException>(() => exchange.Finish());
        Assert.Equal(11, error.Signal);
        Assert.Contains("SIGSEGV", error.Message);
        Assert.Contains("SegfaultingJob", error.Message);
        Assert.Contains(error.Pid.ToString(), error.Message);
        exchange.Finish();
        Assert.Equal(["fine"], exchange.Results);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildThatExitsWithoutSendingOrWithACodeIsReported() => Passes(SilentExitScenario);

    private static void SilentExitScenario()
    {
        using var exchange = new Collecting(limit: 4);
        exchange.Start(c => { });
        exchange.Start(c => Fork.Exit(c, 3));
        var errors = new List<ChildExitedException>();
        while (exchange.Unfinished())
        {
            try
            {
                exchange.Finish();
            }
            catch (ChildExitedException e)
            {
                errors.Add(e);
            }
        }
        Assert.True(errors.Count == 2, string.Join("\n", errors.Select(e => e.Message)));
        Assert.Contains(errors, e => e.ExitCode == 0 && e.Message.Contains("without sending a result"));
        Assert.Contains(errors, e => e.ExitCode == 3 && e.Message.Contains("exited with code 3"));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildThatAbortsIsReportedAsAnAbortNotAsAForkRace() => Passes(AbortScenario);

    private static void AbortScenario()
    {
        // abort(3) from native code, which writes nothing to standard error. The child had started
        // (the start-up handshake says so), so a fork race (rule 3) is not the explanation.
        using var channel = Fork.Start(c => Abort());
        var error = Assert.Throws<ChildExitedException>(() => channel.Receive());
        Assert.True(error.Signal == 6, error.Message);
        Assert.Contains("SIGABRT", error.Message);
        Assert.Contains("abort", error.Message);
        Assert.DoesNotContain("rule 3", error.Message);
    }

    [Fact]
    public void ChildThatClosesItsChannelButKeepsRunningIsKilledNotWaitedFor() => Passes(ClosedButRunningScenario);

    private static void ClosedButRunningScenario()
    {
        using var exchange = new Collecting(new ExchangeOptions { Limit = 1, ExitGrace = TimeSpan.FromMilliseconds(300) });
        exchange.Start(c =>
        {
            c.Close();
            Thread.Sleep(TimeSpan.FromMinutes(5));
        });
        var error = Assert.Throws<ChildExitedException>(() => exchange.Finish());
        Assert.Equal(9, error.Signal);
        Assert.Contains("closed its channel but had not exited", error.Message);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ExchangeLimitMustBePositive()
    {
        // No fork here: argument checks run in the test host.
        Assert.Throws<ArgumentOutOfRangeException>(() => new Exchange(limit: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Exchange(limit: -3));
        using var exchange = new Exchange(limit: 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => exchange.Limit = 0);
        Assert.Equal(2, exchange.Limit);
    }

    [Fact]
    public void DefaultStoreDataExplainsWhatToOverride() => Passes(DefaultStoreDataScenario);

    private static void DefaultStoreDataScenario()
    {
        using var exchange = new Exchange(limit: 1);
        exchange.Start(c => c.Send(1));
        var error = Assert.Throws<InvalidOperationException>(() => exchange.Finish());
        Assert.Contains("override StoreData", error.Message);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, ref RLimit limit);

    private const int RLIMIT_AS = 9;

    /// <summary>Limits the child's address space to what it uses now plus 64 MB.</summary>
    private static void LimitAddressSpace()
    {
        var vmSize = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("VmSize:"))
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1];
        var limit = new RLimit { Current = ulong.Parse(vmSize) * 1024 + (64UL << 20), Maximum = ulong.MaxValue };
        Assert.Equal(0, SetRLimit(RLIMIT_AS, ref limit));
    }

    private static long OutOfMemory(int job)
    {
        LimitAddressSpace();
        // Native memory: the managed heap's address range was reserved at start-up, so a limit
        // set now does not bound it (docs/reliability.md).
        var block = Marshal.AllocHGlobal((nint)(1L << 30));
        Marshal.FreeHGlobal(block);
        return job;
    }

    [Fact]
    public void AChildThatRunsOutOfMemoryIsReportedAndTheOtherResultsAreKept() => Passes(OutOfMemoryScenario);

    private static void OutOfMemoryScenario()
    {
        using var map = new Map<long>(limit: 2);
        var job = map.Manage(Exchange.MakeParallel((int x) => x == 1 ? OutOfMemory(x) : (long)x));
        for (int x = 0; x < 3; x++)
        {
            job(x);
        }
        var error = Assert.Throws<RemoteException>(() => map[1]);
        Assert.Equal(typeof(OutOfMemoryException).FullName, error.RemoteType);
        Assert.Contains(error.Pid.ToString(), error.Message);
        Assert.Contains("#1 ", error.Job);
        Assert.Equal([0L, 2L], new[] { map[0], map[2] });
    }

    private const int RLIMIT_NOFILE = 7;

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [Fact]
    public void RunningOutOfDescriptorsQueuesJobsUntilChildrenEndOrGivesAClearError() => Passes(DescriptorLimitScenario);

    /// <summary>The descriptor limit under which exactly <paramref name="free"/> new descriptors can be opened.</summary>
    private static ulong LimitLeavingFree(IEnumerable<int> open, int free)
    {
        var taken = open.ToHashSet();
        int fd = 0;
        for (int found = 0; ; fd++)
        {
            if (!taken.Contains(fd) && ++found == free)
            {
                return (ulong)fd + 1;
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="count"/> jobs that each wait for the parent's go (so every child started
    /// so far is alive), then releases them and collects their pids. Returns the pids and the largest
    /// number of children seen alive (not exited) at once.
    /// </summary>
    private static (List<int> Pids, int Peak) RunHeldJobs(int count, int limit)
    {
        int peak = 0;
        var pids = new List<int>();
        using var queue = new ResultQueue<int>(limit: limit);
        for (int i = 0; i < count; i++)
        {
            queue.Start(c =>
            {
                c.Receive<string>();
                c.Send(Environment.ProcessId);
            });
        }
        var released = new HashSet<int>();
        while (pids.Count < count)
        {
            // Alive: a child that has exited stays in Active() until its result is taken.
            peak = Math.Max(peak, queue.Active().Count(c => ProcFs.IsRunning(c.Pid)));
            foreach (var channel in queue.Active())
            {
                if (released.Add(channel.Pid))
                {
                    channel.Send("go");
                }
            }
            if (queue.TryTake(out int pid))
            {
                pids.Add(pid);
            }
            else
            {
                queue.Store();
            }
        }
        queue.Finish();
        return (pids, peak);
    }

    private static void DescriptorLimitScenario()
    {
        using (var warmUp = new Map<int>(limit: 1))
        {
            warmUp.Start(c => c.Send(1));
            Assert.Equal(1, warmUp[0]);
            warmUp.Finish();
        }
        var before = ProcFs.OpenDescriptors();
        Assert.Equal(0, GetRLimit(RLIMIT_NOFILE, out var original));
        // Room for a few more descriptors than are open now: fewer than 20 children's channels, but
        // enough for one fork, which needs up to 8 at once over shared memory (the channel's 6, the
        // start-up handshake's 2; docs/reliability.md).
        var tight = new RLimit { Current = LimitLeavingFree(before.Keys, 10), Maximum = original.Maximum };
        Assert.Equal(0, SetRLimit(RLIMIT_NOFILE, ref tight));
        try
        {
            var (pids, peak) = RunHeldJobs(count: 20, limit: 20);
            Assert.InRange(peak, 1, 19);
            Assert.Equal(20, pids.Distinct().Count());

            // With no child to wait for, the shortage is raised at once, and the job is not kept.
            var none = new RLimit { Current = LimitLeavingFree(before.Keys, 1), Maximum = original.Maximum };
            Assert.Equal(0, SetRLimit(RLIMIT_NOFILE, ref none));
            using var map = new Map<int>(limit: 2);
            var error = Assert.Throws<ForkException>(() => map.Start(c => c.Send(1)));
            Assert.True(error.IsResourceShortage);
            Assert.Contains("too many open files", error.Message);
            Assert.Empty(map);
        }
        finally
        {
            Assert.Equal(0, SetRLimit(RLIMIT_NOFILE, ref original));
        }
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.Equal(before, ProcFs.OpenDescriptors());
    }

    private const int RLIMIT_NPROC = 6;

    /// <summary>A uid no other test uses, so that the process limit counts only this test's processes.</summary>
    private const uint LimitedUid = 54_321;

    [Fact]
    // Tiered compilation off: its worker is a thread that a child may start at any moment (rule 8),
    // and this scenario counts each child's threads exactly.
    public void ReachingTheProcessLimitQueuesJobsUntilChildrenEndOrGivesAClearError() =>
        IsolatedProcess.Passes(ProcessLimitScenario, new Dictionary<string, string> { ["DOTNET_TieredCompilation"] = "0" });

    /// <summary>
    /// Root is exempt from RLIMIT_NPROC, so a child drops to a uid of its own, sets the limit to
    /// its own tasks plus four (two children of two tasks each), and runs an exchange there: fork fails
    /// with EAGAIN from the third child on.
    /// </summary>
    private static void ProcessLimitScenario()
    {
        using var limited = Fork.Start(UnderAProcessLimit);
        Assert.Equal("ok", limited.Receive<string>());
        limited.Wait();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static void UnderAProcessLimit(Channel report)
    {
        Assert.Equal(0, Syscall.setgid(LimitedUid));
        Assert.Equal(0, Syscall.setuid(LimitedUid));
        // A first fork makes this process's standard-error relay (a thread); then each child is two
        // tasks, which RLIMIT_NPROC counts: its thread and its exit watch.
        using (var warmUp = Fork.Start(c => c.Send(1)))
        {
            Assert.Equal(1, warmUp.Receive<int>());
            warmUp.Wait();
        }
        ulong tasks = (ulong)Directory.GetDirectories("/proc/self/task").Length + 4;
        var limit = new RLimit { Current = tasks, Maximum = tasks };
        Assert.Equal(0, SetRLimit(RLIMIT_NPROC, ref limit));

        // Children started while two run (the limit) stay queued and start as each one ends.
        var (pids, peak) = RunHeldJobs(count: 6, limit: 6);
        Assert.Equal(2, peak);
        Assert.Equal(6, pids.Distinct().Count());

        // With two children alive outside any exchange, a third fork fails at once with a clear error.
        using var first = Fork.Start(c => c.Receive<string>());
        using var second = Fork.Start(c => c.Receive<string>());
        using var map = new Map<int>(limit: 2);
        var error = Assert.Throws<ForkException>(() => map.Start(c => c.Send(1)));
        Assert.True(error.IsResourceShortage);
        Assert.Equal((int)Mono.Unix.Native.NativeConvert.FromErrno(Mono.Unix.Native.Errno.EAGAIN), error.Errno);
        Assert.Contains("process limit", error.Message);
        Assert.Empty(map);
        first.Send("end");
        second.Send("end");
        first.Wait();
        second.Wait();
        report.Send("ok");
    }
}

/// <summary>The failure tests over socketpairs.</summary>
public sealed class FailureTestsOverSockets : FailureTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.Socket;
}

/// <summary>The failure tests over shared memory.</summary>
public sealed class FailureTestsOverSharedMemory : FailureTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.SharedMemory;
}
