using System.Diagnostics;
using PProcess.Native;
using PProcess.Processes;

namespace PProcess.Runtime;

/// <summary>
/// The first exchange between a parent and a new child, over a socketpair made for it, before any
/// user code runs in the child. The parent says "go" ('G') once it has checked that no other thread
/// ran during the fork; the child answers "ready" ('R') once its runtime is set up, or "unsafe"
/// ('U' and a reason) if it found the parent's runtime caught in a state it cannot start from. A
/// child that never answers is diagnosed from /proc: asleep without progress (a lock that a thread
/// of the parent held at the fork, and which no thread here will release) or spinning. Either way
/// the job has not started, so <see cref="ForkPoint"/> kills the child and forks again.
/// </summary>
internal sealed class StartupHandshake
{
    private const byte Go = (byte)'G', Ready = (byte)'R', Unsafe = (byte)'U';

    /// <summary>How often the parent looks at a child that has not answered yet.</summary>
    private static readonly TimeSpan Look = TimeSpan.FromMilliseconds(25);

    /// <summary>A child asleep this long without using CPU before it is ready is stuck on a lock.</summary>
    private static TimeSpan StuckAsleep => TestHooks.StuckAsleep;

    /// <summary>A child that used this much CPU without getting ready is spinning (its start needs a few ms).</summary>
    private static TimeSpan StuckSpinning => TestHooks.StuckSpinning;

    private readonly SafeDescriptor parentEnd;
    private readonly SafeDescriptor childEnd;

    private StartupHandshake(int parentEnd, int childEnd) => (this.parentEnd, this.childEnd) = (new(parentEnd), new(childEnd));

    internal static StartupHandshake Create()
    {
        var (parent, child) = Transports.SocketTransport.CreatePair();
        return new StartupHandshake(parent, child);
    }

    /// <summary>What the parent learnt of a child's start. <paramref name="Shortage"/>: the child could not start a thread (the process limit), which forking again does not cure.</summary>
    internal readonly record struct Outcome(bool Started, string? Failure, bool Shortage = false, bool Disturbed = false);

    /// <summary>A reason a child refuses to start besides <see cref="ThreadPoolRepair"/>'s: it could not start a thread of its own.</summary>
    internal const int NoThread = 10;

    // ---- child side

    /// <summary>In the child: waits for "go", then says it is ready. Returns only when the parent let it start.</summary>
    internal void ChildReady()
    {
        parentEnd.Dispose();
        Span<byte> one = stackalloc byte[1];
        // A child that is not told to go is killed by the parent, so this read either gets 'G' or never returns.
        if (ReadByte(childEnd.Fd, one) != Go)
        {
            LibC.Exit(ExitCodes.ParentGone);
        }
        one[0] = Ready;
        WriteAll(childEnd.Fd, one);
        childEnd.Dispose();
    }

    /// <summary>In the child: reports that the fork point was unsafe, and leaves.</summary>
    internal void ChildRefuses(int reason)
    {
        Span<byte> message = [Unsafe, (byte)reason];
        WriteAll(childEnd.Fd, message);
        LibC.Exit(ExitCodes.UnsafeForkPoint);
    }

    // ---- parent side

    /// <summary>In the parent, right after the fork: the child's end is the child's.</summary>
    internal void ParentForked() => childEnd.Dispose();

    /// <summary>In the parent, when the fork is abandoned before or without a child.</summary>
    internal void Abandon()
    {
        childEnd.Dispose();
        parentEnd.Dispose();
    }

    /// <summary>
    /// In the parent: lets the child go and waits until it is ready. A child that fails to start is
    /// killed and reaped here, and the outcome says why.
    /// </summary>
    internal Outcome AwaitStart(ChildProcess child)
    {
        try
        {
            Span<byte> one = [Go];
            bool told = TryWrite(parentEnd.Fd, one);
            var sleeping = Stopwatch.StartNew();
            long lastTicks = -1;
            while (true)
            {
                if (!told || WaitReadable(parentEnd.Fd, Look))
                {
                    int got = told ? ReadByte(parentEnd.Fd, one) : -1;
                    if (got == Ready)
                    {
                        return new Outcome(true, null);
                    }
                    if (got == Unsafe)
                    {
                        int reason = ReadByte(parentEnd.Fd, one);
                        if (reason == NoThread)
                        {
                            return Failed(child, "the child could not start a thread: the process limit (RLIMIT_NPROC counts threads) was reached", kill: false) with { Shortage = true };
                        }
                        return Failed(child, $"the child found the parent's {UnsafeReason(reason)} at the fork", kill: false);
                    }
                    return Failed(child, "the child ended before it was ready", kill: false);
                }
                // Not ready yet: slow (a loaded machine) or stuck. Only the child's own state tells.
                var stat = ProcStat.Of(child.Pid);
                if (stat is { HasEnded: true })
                {
                    continue; // it has ended: the next poll sees the end of its socket
                }
                // '?' and -1 when /proc could not be read.
                var (state, ticks) = stat is { } s ? (s.State, s.CpuTicks) : ('?', -1L);
                if (ticks * ProcStat.TickLength >= StuckSpinning)
                {
                    return Failed(child, $"the child used {ticks * ProcStat.TickLength.TotalMilliseconds:0} ms of CPU without getting ready (spinning, in state {state})", kill: true);
                }
                // Running, or waiting on the disk, is progress; asleep, stopped or unreadable
                // (ticks -1: /proc could not be read) for too long is stuck.
                if (state is 'R' or 'D' || ticks != lastTicks)
                {
                    sleeping.Restart();
                    lastTicks = ticks;
                }
                else if (sleeping.Elapsed >= StuckAsleep)
                {
                    return Failed(child, $"the child slept {sleeping.Elapsed.TotalMilliseconds:0} ms without getting ready (a lock held at the fork)", kill: true);
                }
            }
        }
        finally
        {
            parentEnd.Dispose();
        }
    }

    private static Outcome Failed(ChildProcess child, string why, bool kill)
    {
        // Killed unless it has ended: the child may still be alive (a read error that was not its
        // end), and a blocking wait for it must not depend on its ending by itself.
        var status = child.KillAndReap();
        return new Outcome(false, kill ? why : $"{why} ({status})");
    }

    private static string UnsafeReason(int reason) => reason switch
    {
        ThreadPoolRepair.PoolLockHeld => "thread-pool lock held by another thread",
        ThreadPoolRepair.TimerLockHeld or ThreadPoolRepair.QueueLockHeld => "timer lock held by another thread",
        ThreadPoolRepair.StealLockHeld => "work-stealing queue lock held by another thread",
        _ => $"runtime in an unknown state ({reason})",
    };

    private static bool WaitReadable(int fd, TimeSpan timeout)
    {
        Span<PollFd> poll = [PollFd.ForInput(fd)];
        return LibC.Poll(poll, Deadline.After(timeout)) > 0;
    }

    /// <summary>One byte, or -1 at the end of the stream or on an error (EINTR is retried by LibC.Read).</summary>
    private static unsafe int ReadByte(int fd, Span<byte> one)
    {
        fixed (byte* p = one)
        {
            return LibC.Read(fd, p, 1) == 1 ? one[0] : -1;
        }
    }

    /// <summary>False when the peer is gone (EPIPE).</summary>
    private static unsafe bool TryWrite(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            return LibC.Write(fd, p, (nuint)data.Length) == data.Length;
        }
    }

    private static void WriteAll(int fd, ReadOnlySpan<byte> data) => TryWrite(fd, data);
}
