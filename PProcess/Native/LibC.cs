using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>
/// The few libc calls that Mono.Posix.NETStandard does not bind: it removed <c>fork</c> on
/// purpose and has no <c>_exit</c>, <c>gettid</c> or <c>prctl</c>. Everything else goes through
/// <see cref="Mono.Unix.Native.Syscall"/>. See docs/dependencies.md. The calls a child makes right
/// after the fork, before its start is checked, have no GC transition: returning from a normal
/// P/Invoke waits while a GC is in progress, and a GC that the parent had begun never ends here.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    /// <summary>
    /// fork(2) as the raw clone syscall, not glibc's fork(): glibc's marks the stacks of the
    /// parent's other threads free in the child, the child's first new thread then runs on one of
    /// them, and the runtime, which still walks those threads' stacks at every GC, aborts the child
    /// (docs/fork-safety.md, rule 17). No GC transition: a child must not block on a GC that a
    /// thread of the parent had started (it would wait for ever) before its start is checked.
    /// Returns the child's pid, 0 in the child, or -1 with errno in <see cref="Marshal.GetLastSystemError"/>.
    /// </summary>
    internal static int RawFork() => (int)SyscallNoTransition(CloneNumber, SIGCHLD, 0, 0, 0, 0);

    [LibraryImport(Library, EntryPoint = "syscall")]
    [SuppressGCTransition]
    private static partial nint SyscallNoTransition(nint number, nint a1, nint a2, nint a3, nint a4, nint a5);

    private const int SIGCHLD = 17;

    /// <summary>clone's number: the generic table's on arm64, riscv64 and loongarch64; x86-64's own; 32-bit Arm's.</summary>
    private static readonly nint CloneNumber = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 56,
        Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => 220,
        Architecture.Arm => 120,
        var other => throw new PlatformNotSupportedException($"PProcess forks with the clone syscall, whose number it does not know on {other}."),
    };

    /// <summary>Ends the calling process at once, without running the runtime's exit logic.</summary>
    [LibraryImport(Library, EntryPoint = "_exit")]
    [DoesNotReturn]
    internal static partial void Exit(int status);

    /// <summary>signal(2): sets a disposition; <see cref="SIG_DFL"/> restores the default.</summary>
    [LibraryImport(Library, EntryPoint = "signal")]
    [SuppressGCTransition]
    internal static partial nint Signal(int signal, nint handler);

    internal const nint SIG_DFL = 0;

    [LibraryImport(Library, EntryPoint = "getppid")]
    [SuppressGCTransition]
    internal static partial int GetParentPid();

    [LibraryImport(Library, EntryPoint = "gettid")]
    internal static partial int GetTid();

    [LibraryImport(Library, EntryPoint = "prctl")]
    [SuppressGCTransition]
    internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    internal const int PR_SET_PDEATHSIG = 1;

    /// <summary>
    /// getsockopt(2), for SO_PEERCRED: Mono.Posix binds getsockopt only for int, linger and
    /// timeval values, not for struct ucred.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(int socket, int level, int option, void* value, ref uint length);

    /// <summary>recvmsg(2), for the credentials (SCM_CREDENTIALS) of each piece a child writes to its standard error.</summary>
    [LibraryImport(Library, EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(int socket, MsgHdr* message, int flags);

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVec
    {
        internal nint Base;
        internal nuint Length;
    }

    /// <summary>struct msghdr (64-bit Linux layout: the int fields are padded to 8 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct MsgHdr
    {
        internal nint Name;
        internal uint NameLength;
        internal IoVec* Iov;
        internal nuint IovLength;
        internal nint Control;
        internal nuint ControlLength;
        internal int Flags;
    }

    internal const int SOL_SOCKET = 1;
    internal const int SO_PEERCRED = 17;

    /// <summary>struct ucred: the credentials of a Unix socket's peer at connect time.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct UCred
    {
        internal int Pid;
        internal uint Uid;
        internal uint Gid;
    }

    /// <summary>
    /// mmap(2). Called directly, not through MemoryMappedFile, whose views .NET marks
    /// MADV_DONTFORK (docs/fork-safety.md, rule 12): a shared-memory channel must be in both processes.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    /// <summary>mprotect(2); no GC transition, as it runs in a child before its start is checked.</summary>
    [LibraryImport(Library, EntryPoint = "mprotect")]
    [SuppressGCTransition]
    internal static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport(Library, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(nint address, nuint length);

    /// <summary>madvise(2); Mono.Posix's binding maps the advice through its own table, which lacks MADV_DONTFORK.</summary>
    [LibraryImport(Library, EntryPoint = "madvise", SetLastError = true)]
    internal static partial int Madvise(nint address, nuint length, int advice);

    /// <summary>eventfd(2), which Mono.Posix does not bind.</summary>
    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initial, int flags);

    /// <summary>syscall(2), for pidfd_open, which glibc wraps only from 2.36 on.</summary>
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    internal static partial int Syscall(nint number, int arg1, uint arg2);

    /// <summary>pidfd_open's number, the same on every Linux architecture (from the common syscall table).</summary>
    internal const int SYS_pidfd_open = 434;

    internal const int PROT_READ = 1;
    internal const int PROT_WRITE = 2;
    internal const int MAP_SHARED = 0x01;
    internal const int MAP_ANONYMOUS = 0x20;
    internal static readonly nint MAP_FAILED = -1;
    internal const int MADV_DONTNEED = 4;
    internal const int MADV_DONTFORK = 10;
    internal const int MADV_HUGEPAGE = 14;
    internal const int EFD_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000;
}
