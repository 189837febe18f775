using PProcess.Native;
using PProcess.Processes;

namespace PProcess.Persistence;

/// <summary>
/// A process that is not a child of this one, known by its pid and its start time (field 22 of
/// /proc/PID/stat, in clock ticks since boot). A pid alone may name a later process that took it
/// once the first ended; the pair names one process. A background process is signalled through this.
/// </summary>
internal readonly record struct KnownProcess(int Pid, long StartTime)
{
    /// <summary>
    /// The process that has <paramref name="pid"/> now. Call it while that pid cannot change hands:
    /// the process is the caller itself, or an unreaped child of the caller (a zombie still holds its pid).
    /// </summary>
    internal static KnownProcess Of(int pid) =>
        new(pid, StartTimeOf(pid) ?? throw new IOException($"The start time of process {pid} cannot be read from /proc/{pid}/stat."));

    /// <summary>
    /// Sends <paramref name="signal"/> to this process if it still exists (as a zombie too); false,
    /// sending nothing, when it has ended and been reaped, whatever process has its pid now.
    /// </summary>
    internal bool Signal(int signal)
    {
        int fd = LibC.PidfdOpen(Pid);
        if (fd < 0)
        {
            // ESRCH: no process has the pid. ENOSYS, a kernel older than 5.3: check, then signal by pid
            // (a process that ends and is replaced between the two can still be hit).
            return LibC.LastError == Errno.ENOSYS && IsStillThere() && LibC.Kill(Pid, signal) == 0;
        }
        using var pidfd = new SafeDescriptor(fd);
        // The pidfd holds whichever process had the pid when it was opened. If the process with the
        // pid now is this one (same start time), this one was already there then: it is the pidfd's.
        return IsStillThere() && LibC.PidfdSendSignal(fd, signal) == 0;
    }

    /// <summary>True when the process with <see cref="Pid"/> now started when this one did.</summary>
    private bool IsStillThere() => StartTimeOf(Pid) == StartTime;

    /// <summary>Field 22 of /proc/PID/stat, or null.</summary>
    private static long? StartTimeOf(int pid) => ProcStat.Of(pid)?.StartTime;
}
