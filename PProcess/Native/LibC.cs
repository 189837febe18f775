using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>
/// The few libc calls that Mono.Posix.NETStandard does not bind: it removed <c>fork</c> on
/// purpose and has no <c>_exit</c>, <c>gettid</c> or <c>prctl</c>. Everything else goes through
/// <see cref="Mono.Unix.Native.Syscall"/>. See docs/dependencies.md.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    [LibraryImport(Library, EntryPoint = "fork", SetLastError = true)]
    internal static partial int Fork();

    /// <summary>Ends the calling process at once, without running the runtime's exit logic.</summary>
    [LibraryImport(Library, EntryPoint = "_exit")]
    [DoesNotReturn]
    internal static partial void Exit(int status);

    /// <summary>signal(2): sets a disposition; <see cref="SIG_DFL"/> restores the default.</summary>
    [LibraryImport(Library, EntryPoint = "signal")]
    internal static partial nint Signal(int signal, nint handler);

    internal const nint SIG_DFL = 0;

    [LibraryImport(Library, EntryPoint = "getppid")]
    internal static partial int GetParentPid();

    [LibraryImport(Library, EntryPoint = "gettid")]
    internal static partial int GetTid();

    [LibraryImport(Library, EntryPoint = "prctl", SetLastError = true)]
    internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    internal const int PR_SET_PDEATHSIG = 1;

    /// <summary>
    /// getsockopt(2), for SO_PEERCRED: Mono.Posix binds getsockopt only for int, linger and
    /// timeval values, not for struct ucred.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    internal static partial int GetSockOpt(int socket, int level, int option, void* value, ref uint length);

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
}
