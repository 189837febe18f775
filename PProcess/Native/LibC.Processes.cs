using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using T = Tmds.Linux.LibC;

namespace PProcess.Native;

/// <summary>
/// Processes: _exit, kill, waitpid (Mono.Posix, whose binding reports the raw wait status),
/// pidfd_open, session and ids. The fork itself and the calls of a child's first moments are in
/// LibC.ChildStart.cs.
/// </summary>
internal static unsafe partial class LibC
{
    /// <summary>Ends the calling process at once, without running the runtime's exit logic.</summary>
    [DoesNotReturn]
    internal static void Exit(int status)
    {
        T._exit(status);
        throw new UnreachableException();
    }

    internal static int Kill(int pid, int signal) => T.kill(pid, signal);

    internal static int GetPid() => T.getpid();

    internal static uint GetEffectiveUid() => T.geteuid();

    internal static int SetSid() => T.setsid();

    /// <summary>gettid(2), which Tmds.LibC does not bind (glibc wraps it from 2.30 on).</summary>
    [LibraryImport(Library, EntryPoint = "gettid")]
    internal static partial int GetTid();

    /// <summary>pidfd_open(2) through Tmds.LibC's syscall (glibc wraps it only from 2.36 on): a descriptor that becomes readable when the process ends, or -1.</summary>
    internal static int PidfdOpen(int pid) => (int)(long)(Tmds.Linux.ssize_t)T.syscall(SYS_pidfd_open, pid, 0);

    /// <summary>
    /// waitpid(2), restarted after EINTR: the pid reaped (0 with <see cref="WNOHANG"/> while it
    /// runs) and its raw wait status, or -1. Mono.Posix's binding: Tmds.LibC has no waitpid.
    /// </summary>
    internal static int WaitPid(int pid, out int status, int options)
    {
        int raw = 0;
        int result = (int)Restart(&WaitPidOnce, pid, &raw, 0, options);
        status = raw;
        return result;
    }

    private static long WaitPidOnce(int pid, void* status, nuint unused, int options) =>
        Mono.Unix.Native.Syscall.waitpid(pid, out *(int*)status, options == WNOHANG ? Mono.Unix.Native.WaitOptions.WNOHANG : 0);
}
