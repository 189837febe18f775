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

    /// <summary>
    /// Starts a detached native thread with a stack of <paramref name="stackSize"/> bytes at
    /// <paramref name="start"/> (a <c>void* (*)(void*)</c>, for instance an UnmanagedCallersOnly
    /// method): 0, or the error number (EAGAIN at the process limit). pthread_create returns at
    /// once, where a managed Thread.Start waits until the new thread runs. Tmds.LibC does not bind it.
    /// </summary>
    internal static int StartThread(nint start, nuint stackSize, string name)
    {
        nint* attributes = stackalloc nint[8]; // pthread_attr_t: 56 bytes on 64-bit Linux
        int error = PthreadAttrInit(attributes);
        if (error != 0)
        {
            return error;
        }
        PthreadAttrSetStackSize(attributes, stackSize);
        PthreadAttrSetDetachState(attributes, PTHREAD_CREATE_DETACHED);
        nuint thread;
        error = PthreadCreate(&thread, attributes, start, 0);
        PthreadAttrDestroy(attributes);
        if (error == 0)
        {
            PthreadSetName(thread, name); // at once, so that /proc names it before it first runs
        }
        return error;
    }

    private const int PTHREAD_CREATE_DETACHED = 1;

    [LibraryImport(Library, EntryPoint = "pthread_attr_init")]
    private static partial int PthreadAttrInit(nint* attributes);

    [LibraryImport(Library, EntryPoint = "pthread_attr_setstacksize")]
    private static partial int PthreadAttrSetStackSize(nint* attributes, nuint size);

    [LibraryImport(Library, EntryPoint = "pthread_attr_setdetachstate")]
    private static partial int PthreadAttrSetDetachState(nint* attributes, int state);

    [LibraryImport(Library, EntryPoint = "pthread_attr_destroy")]
    private static partial int PthreadAttrDestroy(nint* attributes);

    [LibraryImport(Library, EntryPoint = "pthread_setname_np", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int PthreadSetName(nuint thread, string name);

    [LibraryImport(Library, EntryPoint = "pthread_create")]
    private static partial int PthreadCreate(nuint* thread, nint* attributes, nint start, nint argument);

    /// <summary>gettid(2), which Tmds.LibC does not bind (glibc wraps it from 2.30 on).</summary>
    /// <summary>
    /// Whether this process may start threads without a per-user limit: RLIMIT_NPROC unlimited, or
    /// the process is root (exempt unless the limit is enforced on it, which a root shell does not do).
    /// </summary>
    internal static bool ThreadsUnlimited()
    {
        const int RLIMIT_NPROC = 6;
        Span<ulong> limit = stackalloc ulong[2];
        fixed (ulong* l = limit)
        {
            return GetRLimit(RLIMIT_NPROC, l) != 0 || limit[0] == ulong.MaxValue || GetEffectiveUid() == 0;
        }
    }

    [LibraryImport(Library, EntryPoint = "getrlimit")]
    private static partial int GetRLimit(int resource, ulong* limit);

    [LibraryImport(Library, EntryPoint = "gettid")]
    internal static partial int GetTid();

    /// <summary>pidfd_open(2) through Tmds.LibC's syscall (glibc wraps it only from 2.36 on): a descriptor that becomes readable when the process ends, or -1.</summary>
    internal static int PidfdOpen(int pid) => (int)(long)(Tmds.Linux.ssize_t)T.syscall(SYS_pidfd_open, pid, 0);

    /// <summary>
    /// pidfd_send_signal(2) through Tmds.LibC's syscall (glibc wraps it only from 2.36 on): signals
    /// the very process <paramref name="pidfd"/> was opened on, never one that took its pid since; 0 or -1.
    /// </summary>
    internal static int PidfdSendSignal(int pidfd, int signal) => (int)(long)(Tmds.Linux.ssize_t)T.syscall(SYS_pidfd_send_signal, pidfd, signal, 0, 0);

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
