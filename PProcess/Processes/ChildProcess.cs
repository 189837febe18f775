using PProcess.Native;
using PProcess.Runtime;

namespace PProcess.Processes;

/// <summary>
/// A forked child as its parent holds it: its pid, reaping it (now, without blocking, or within a
/// grace period after which it is killed), and the diagnosis of how it ended. The one owner of a
/// child's pid, from the moment the fork returns (<see cref="ForkPoint"/>): every place that
/// signals or waits for a child goes through it. Only the process that forked the child
/// may reap it; a copy inherited by a grandchild does nothing.
/// </summary>
internal sealed class ChildProcess
{
    private readonly int ownerPid = ProcessIdentity.Current;
    private ChildStatus? status;

    internal ChildProcess(int pid) => Pid = pid;

    /// <summary>
    /// A child whose owner was dropped without being disposed (a PMap enumerator abandoned without
    /// Dispose, a channel forgotten): when it is collected, the child is killed and reaped, as
    /// Dispose would have, instead of staying a zombie for the life of the process. Only in the
    /// process that forked it (a child has no finalizer thread anyway).
    /// </summary>
    ~ChildProcess()
    {
        try
        {
            KillAndReap();
        }
        catch (Exception)
        {
            // Reaped elsewhere (waitpid(-1) by other code): nothing is left to release.
        }
    }

    internal int Pid { get; }

    /// <summary>How the child ended, once reaped; otherwise null.</summary>
    internal ChildStatus? Status => status;

    /// <summary>True when the child had closed its channel but did not exit within its grace, and was killed.</summary>
    internal bool KilledAfterGrace { get; private set; }

    internal bool IsOwner => ownerPid == ProcessIdentity.Current;

    /// <summary>Waits for the child to end and reaps it; again, returns the same status.</summary>
    internal ChildStatus Wait()
    {
        if (status is { } known)
        {
            return known;
        }
        if (!IsOwner)
        {
            throw new InvalidOperationException($"Child process {Pid} belongs to process {ownerPid}; only it can wait for the child.");
        }
        if (LibC.WaitPid(Pid, out int raw, 0) != Pid)
        {
            throw LibC.Error($"waitpid({Pid})", LibC.LastError);
        }
        status = ChildStatus.FromWaitStatus(raw);
        Reaped();
        return status.Value;
    }

    /// <summary>Reaps the child without blocking; null while it runs (or in a process that does not own it).</summary>
    internal ChildStatus? TryWait()
    {
        if (status is null && IsOwner && LibC.WaitPid(Pid, out int raw, LibC.WNOHANG) == Pid)
        {
            status = ChildStatus.FromWaitStatus(raw);
            Reaped();
        }
        return status;
    }

    /// <summary>Once reaped: nothing for the finalizer to do, and every message the child sent (<see cref="ChildMessages"/>) handed on.</summary>
    private void Reaped()
    {
        GC.SuppressFinalize(this);
        ChildMessageRelay.AfterReap(Pid);
    }

    /// <summary>Sends SIGKILL to a child not reaped yet (its pid cannot have been reused before that).</summary>
    internal void Kill()
    {
        if (status is null && IsOwner)
        {
            LibC.Kill(Pid, Signals.SIGKILL);
        }
    }

    /// <summary>Reaps the child, killing it first if it still runs: nothing is left behind. Returns how it ended (null in a process that does not own it).</summary>
    internal ChildStatus? KillAndReap()
    {
        if (IsOwner && TryWait() is null)
        {
            Kill();
            Wait();
        }
        return status;
    }

    /// <summary>
    /// Reaps a child that should be ending (its channel is closed), waiting until
    /// <paramref name="deadline"/> at most; one still running then is killed
    /// (<see cref="KilledAfterGrace"/>), so that a child that closed its channel and kept running
    /// never leaves its parent waiting for ever.
    /// </summary>
    internal ChildStatus WaitOrKill(Deadline deadline)
    {
        if (TryWait() is { } done)
        {
            return done;
        }
        // Normally the child is in _exit: wait for exactly that moment through a pidfd, which
        // becomes readable when the process ends (docs/performance.md: sleeping instead cost a
        // fork-per-job PMap milliseconds per job).
        int fd = LibC.PidfdOpen(Pid);
        if (fd >= 0)
        {
            using var pidfd = new SafeDescriptor(fd);
            Span<PollFd> exit = [PollFd.ForInput(fd)];
            if (LibC.Poll(exit, deadline) > 0)
            {
                return Wait();
            }
        }
        else
        {
            // No pidfd (a kernel older than 5.3): poll waitpid with growing pauses.
            int pause = 1;
            while (TryWait() is null && !deadline.HasPassed)
            {
                Thread.Sleep(pause);
                pause = Math.Min(pause * 2, 50);
            }
            if (status is { } reaped)
            {
                return reaped;
            }
        }
        Kill();
        KilledAfterGrace = true;
        return Wait();
    }

    /// <summary>
    /// After the child closed its channel: reaps it (within <paramref name="grace"/>) and says what
    /// went wrong, if anything. An exception the child already sent is not reported again.
    /// <paramref name="expectMessage"/>: the child still owed the result of a job, so ending cleanly
    /// is a failure too. <paramref name="who"/> names the child and its job in the message.
    /// </summary>
    internal ChildExitedException? Conclude(string who, string? job, TimeSpan grace, long messagesReceived, bool errorReceived, bool expectMessage)
    {
        var s = WaitOrKill(Deadline.After(grace));
        if (errorReceived && !expectMessage)
        {
            // Its exception was the last word; the exit code that follows it adds nothing.
            return null;
        }
        string? problem = null;
        if (KilledAfterGrace)
        {
            problem = $"closed its channel but had not exited {grace.TotalSeconds:0.#} s later, so it was killed";
        }
        else if (s.Signal is not null || s.ExitCode != 0)
        {
            problem = s + Explain(s);
        }
        else if (expectMessage)
        {
            problem = messagesReceived == 0
                ? $"{s} without sending a result"
                : $"{s} after {messagesReceived} message(s), without sending the result of its last job";
        }
        return problem is null ? null : new ChildExitedException($"{who} {problem}.", Pid, job, s);
    }

    /// <summary>
    /// Why the child ended as it did, in a parenthesis after its status: what a signal or a code of
    /// the library's means, and what the child last wrote to its standard error (an abort with the
    /// line the runtime wrote, any other end with its last line). Empty when there is nothing to say.
    /// Call it once the child is reaped: everything it wrote is then at hand.
    /// </summary>
    internal string Explain(ChildStatus s)
    {
        var (diagnosis, lastLine) = StandardErrorRelay.LastWords(Pid);
        string? meaning = (s.Signal, s.ExitCode) switch
        {
            (6, _) when diagnosis is not null => "the .NET runtime aborted it",
            (6, _) => "an abort: Environment.FailFast, a stack overflow or a fatal error of the .NET runtime, or native code calling abort()",
            (9, _) => "by a user, a timeout, or the kernel's out-of-memory killer",
            (11, _) => "a crash in native code, or an access to memory it could not map",
            (null, ExitCodes.UnhandledException) => "an exception escaped the child's code",
            (null, ExitCodes.ParentGone) => "its parent died before the child could start",
            _ => null,
        };
        // The runtime's own line says why better than the last one (a stack trace's last frame).
        string? said = (diagnosis, lastLine) switch
        {
            (not null, _) => $"its standard error said: \"{diagnosis}\"",
            (null, not null) => $"its standard error last said: \"{lastLine}\"",
            _ when s.Signal == 6 || s.ExitCode == ExitCodes.UnhandledException => "it wrote nothing to its standard error",
            _ => null,
        };
        return (meaning, said) switch
        {
            (null, null) => "",
            (null, _) => $" ({said})",
            (_, null) => $" ({meaning})",
            _ => $" ({meaning}; {said})",
        };
    }
}
