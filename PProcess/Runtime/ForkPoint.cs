using System.Diagnostics;
using System.Runtime.InteropServices;
using PProcess.Native;
using PProcess.Processes;

namespace PProcess.Runtime;

/// <summary>
/// The one place where this library forks a process. One fork at a time in a process; each waits
/// until the process's other threads sleep, forks with the raw syscall, checks that no other thread
/// ran during the fork, and lets the child start only then; a child that cannot start (it found a
/// lock held, or got stuck before user code) is killed and the fork made again, which is safe
/// because its job has not begun (docs/fork-safety.md, "How a fork is made").
/// </summary>
internal static class ForkPoint
{
    /// <summary>How many children of one fork may fail to start (stuck, dead, unsafe) before the fork is refused.</summary>
    internal const int MaxAttempts = 50;

    /// <summary>One fork at a time: each needs the other threads quiet, and its own handshake.</summary>
    private static Lock gate = new();

    private static long retries;

    /// <summary>How many forks this process made again because a child could not start safely.</summary>
    internal static long Retries => Interlocked.Read(ref retries);

    /// <summary>Why the last forks were made again (the newest last), for the soak's report and for errors.</summary>
    internal static IReadOnlyList<string> RecentRetryReasons
    {
        get
        {
            lock (reasons)
            {
                return [.. reasons];
            }
        }
    }

    private static readonly Queue<string> reasons = new();

    /// <summary>Ways a test makes a child fail to start, by attempt number (1 = the first try of a fork).</summary>
    internal enum Fault { None, Sleep, Spin, Die, Disturbed, NewThread }

    /// <summary>The fault a test injects into an attempt; null in normal use.</summary>
    private static Func<int, Fault>? InjectFault => TestHooks.InjectFault;

    /// <summary>
    /// Forks a started child. Returns the child in the parent, once the child is past its
    /// start; returns null in the child, whose runtime is set up (<see cref="ChildRuntime.Enter"/>) and
    /// which has closed every registered descriptor but <paramref name="keep"/> (its channel's ends).
    /// A child forked with <paramref name="keepHeapShared"/> guards the inherited heap from its full
    /// collections (<see cref="HeapSharing.EnterChild"/>).
    /// </summary>
    internal static ChildProcess? Fork(bool dieWithParent, int[] keep, bool keepHeapShared = false)
    {
        ThreadPoolRepair.Prepare();
        DiagnosticEndpointGuard.Prepare();
        TieringRepair.Prepare();
        gate.Enter();
        int pid = -1;
        // The hooks as they are at this fork: the same set runs before it, after it in the parent, and in the child.
        var hooks = AtForkHooks.Current;
        bool afterDone = false;
        try
        {
            // Before the wait for quiet: a thread a hook starts must be asleep, and seen, when the fork is made.
            AtForkHooks.Before(hooks);
            var failures = new List<string>();
            int failedStarts = 0;
            long firstDisturbed = -1;
            for (int attempt = 1; ; attempt++)
            {
                ForkGuard.ThrowIfPoolCannotBeRepaired();
                ThreadPoolRepair.RenewSpares();
                // Before the wait for quiet: the relay's thread, started at the first fork, must
                // be asleep (and in the snapshot) like any other when the fork is made.
                var relay = StandardErrorRelay.ForThisProcess();
                Quiescence.Snapshot quiet;
                try
                {
                    ChildExitWatch.Park();
                    quiet = Quiescence.WaitForOtherThreads();
                }
                catch (IOException e) when (e.HResult is Errno.EMFILE or Errno.ENFILE)
                {
                    // Reading /proc needs descriptors too: at the descriptor limit this is where the shortage shows.
                    throw new ForkException($"fork was not attempted: the check for other running threads failed: too many open files ({e.Message})", e.HResult);
                }
                bool socketEngine = Quiescence.Has(quiet, ThreadPoolRepair.SocketEngineThread);
                if (socketEngine)
                {
                    ThreadPoolRepair.PrepareSocketEngines();
                }
                if (InjectFault?.Invoke(attempt) == Fault.NewThread)
                {
                    // A thread started by the forking thread itself after the check, as the relay's once was.
                    new Thread(static () => Thread.Sleep(Timeout.Infinite)) { IsBackground = true }.Start();
                }
                // Made after the check, whose descriptors are closed by then: at the limit, every one counts.
                var handshake = StartupHandshake.Create();
                int parentPid = ProcessIdentity.Current;
                bool? tieringWorker = TieringRepair.WorkerFlagged();
                pid = LibC.RawFork();
                if (pid == 0)
                {
                    // The child: nothing before this may block on the runtime (see LibC.RawFork).
                    ChildRuntime.EnterFirst(parentPid, dieWithParent);
                    gate = new Lock(); // the inherited one is held by this thread, with the parent's waiters
                    ChildRuntime.Enter(handshake, relay, socketEngine, keep, keepHeapShared, InjectFault?.Invoke(attempt) ?? Fault.None);
                    AtForkHooks.InChild(hooks);
                    return null;
                }
                if (pid < 0)
                {
                    int errno = Marshal.GetLastSystemError();
                    handshake.Abandon();
                    throw ForkFailed(errno);
                }
                StartupHandshake.Outcome outcome;
                ChildProcess? child = null;
                try
                {
                    handshake.ParentForked();
                    relay?.Forget(pid);
                    var disturbed = InjectFault?.Invoke(attempt) == Fault.Disturbed ? "a test said so" : Quiescence.RanSince(quiet);
                    // The child's one owner from here on: every kill and reap of it goes through this. Made
                    // after the check for other threads: made before it (a finalizable object), every fork
                    // of busy_forks --loops 8 --forks 3 --busy 2 was found disturbed for 5 s and refused.
                    child = new ChildProcess(pid);
                    if (disturbed is not null)
                    {
                        handshake.Abandon();
                        child.KillAndReap();
                        outcome = new(false, $"another thread ran during the fork ({disturbed})", Disturbed: true);
                    }
                    else
                    {
                        // Nothing ran since the snapshot: the flags read before the fork describe it.
                        TieringRepair.Confirm(tieringWorker, TieringRepair.HasWorker(quiet));
                        outcome = handshake.AwaitStart(child);
                    }
                }
                catch (Exception e)
                {
                    // The child must not outlive a fork that failed in the parent.
                    handshake.Abandon();
                    (child ?? new ChildProcess(pid)).KillAndReap();
                    if (e is IOException { HResult: Errno.EMFILE or Errno.ENFILE })
                    {
                        throw new ForkException($"fork failed: the check of the child's start failed: too many open files ({e.Message})", e.HResult);
                    }
                    throw;
                }
                if (outcome.Started)
                {
                    afterDone = true;
                    AfterInParent(hooks, child!);
                    return child;
                }
                if (outcome.Shortage)
                {
                    throw new ForkException($"fork failed: {outcome.Failure}", Errno.EAGAIN);
                }
                Record(outcome.Failure!);
                failures.Add(outcome.Failure!);
                if (!outcome.Disturbed)
                {
                    // The patience below is for forks disturbed one after another.
                    firstDisturbed = -1;
                }
                if (outcome.Disturbed)
                {
                    // Forks are made again for as long as the wait for quiet would wait: a thread that
                    // wakes during every fork (a polling loop) leaves no safe moment, and says so.
                    firstDisturbed = firstDisturbed < 0 ? Stopwatch.GetTimestamp() : firstDisturbed;
                    if (Stopwatch.GetElapsedTime(firstDisturbed) >= Quiescence.CurrentPatience)
                    {
                        throw new ForkSafetyException("threads",
                            $"Refusing to fork: another thread of this process ran during every fork for {Quiescence.CurrentPatience.TotalSeconds:0.###} s " +
                            $"({attempt} attempts; the last: {outcome.Failure}). A thread running while the fork is made (it takes milliseconds) " +
                            "may leave the child a runtime or libc lock held for ever (fork-safety rule 18). A thread that wakes every few " +
                            "milliseconds (a polling loop, a 1 ms timer) leaves no moment to fork: wait on an event or poll less often, or fork " +
                            "workers early (a WorkerPool).");
                    }
                }
                else if (++failedStarts >= MaxAttempts)
                {
                    throw new ForkException(
                        $"fork: {failedStarts} children could not start safely, so no child was started. The last reasons: " +
                        string.Join("; ", failures.TakeLast(3)) + " (docs/fork-safety.md, \"How a fork is made\").", 0);
                }
            }
        }
        catch when (pid != 0 && !afterDone)
        {
            // The fork failed: the hooks after it run all the same (as Python's after_in_parent),
            // and the fork's own error is the one raised.
            try
            {
                AtForkHooks.AfterInParent(hooks);
            }
            catch (Exception)
            {
                // The fork's error says more.
            }
            throw;
        }
        finally
        {
            if (pid != 0)
            {
                ChildExitWatch.Resume();
                gate.Exit();
            }
        }
    }

    /// <summary>The hooks after a fork that made <paramref name="child"/>: if one throws, the child is killed and reaped and the fork fails with it.</summary>
    private static void AfterInParent(AtForkHooks.Registration[] hooks, ChildProcess child)
    {
        try
        {
            AtForkHooks.AfterInParent(hooks);
        }
        catch
        {
            child.KillAndReap();
            throw;
        }
    }

    private static void Record(string reason)
    {
        Interlocked.Increment(ref retries);
        lock (reasons)
        {
            reasons.Enqueue(reason);
            if (reasons.Count > 20)
            {
                reasons.Dequeue();
            }
        }
    }

    private static ForkException ForkFailed(int errno)
    {
        string hint = errno is Errno.EAGAIN or Errno.ENOMEM ? Errno.ShortageHint(errno) : "";
        return new ForkException($"fork failed: {Errno.Name(errno)}{hint}", errno);
    }
}
