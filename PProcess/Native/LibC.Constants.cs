namespace PProcess.Native;

/// <summary>
/// The Linux values the native layer passes to or tests from libc (the same on x86-64 and arm64).
/// Tmds.LibC has them as properties; as constants they can be folded and used in patterns.
/// </summary>
internal static partial class LibC
{
    // Descriptors: recv flags, open flags, eventfd flags.
    internal const int MSG_PEEK = 0x2;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int O_RDWR = 0x2;
    internal const int O_WRONLY = 0x1;
    internal const int O_CREAT = 0x40;
    internal const int O_APPEND = 0x400;
    internal const int O_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int O_NONBLOCK = 0x800;
    internal const int F_SETFL = 4;

    /// <summary>O_NOFOLLOW differs between architectures (0x20000 on x86-64, 0x8000 on arm64): Tmds.LibC's value for this one.</summary>
    internal static int O_NOFOLLOW => Tmds.Linux.LibC.O_NOFOLLOW;

    // madvise advice.
    internal const int MADV_DONTNEED = 4;
    internal const int MADV_DONTFORK = 10;
    internal const int MADV_HUGEPAGE = 14;

    // poll events.
    internal const short POLLIN = 1;

    // Processes: signal disposition, prctl option, waitpid option, syscall number.
    internal const nint SIG_DFL = 0;
    internal const nint SIG_IGN = 1;
    internal const int PR_SET_PDEATHSIG = 1;
    internal const int WNOHANG = 1;
    /// <summary>pidfd_open's number, the same on every Linux architecture (from the common syscall table).</summary>
    private const int SYS_pidfd_open = 434;
    /// <summary>pidfd_send_signal's number, from the same common table.</summary>
    private const int SYS_pidfd_send_signal = 424;

    // Sockets and file types.
    private const int AF_UNIX = 1;
    private const int SOCK_STREAM = 1;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int SOL_SOCKET = 1;
    private const int SO_PEERCRED = 17;
    private const int SO_PASSCRED = 16;
    private const int SO_SNDTIMEO = 21;
    private const int SCM_CREDENTIALS = 2;
    internal const int S_IFMT = 0xF000;
    internal const int S_IFSOCK = 0xC000;
    internal const int S_IFDIR = 0x4000;
    internal const int S_IFREG = 0x8000;
    internal const int S_IFLNK = 0xA000;
    /// <summary>sizeof(sockaddr_un.sun_path) on Linux, the terminating NUL included.</summary>
    internal const int SunPathSize = 108;
}
