namespace PProcess.Native;

/// <summary>
/// The errno values the library tests for (Linux numbers, the same on x86-64 and arm64). Tmds.LibC
/// has them as properties, which a <c>switch</c> or a pattern cannot use.
/// </summary>
internal static class Errno
{
    internal const int ENOENT = 2;
    internal const int EINTR = 4;
    internal const int ESRCH = 3;
    internal const int EBADF = 9;
    internal const int ECHILD = 10;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int ENFILE = 23;
    internal const int EMFILE = 24;
    internal const int EPIPE = 32;
    internal const int ENOSYS = 38;
    internal const int ELOOP = 40;
    internal const int EADDRINUSE = 98;
    internal const int ECONNABORTED = 103;
    internal const int ECONNRESET = 104;
    internal const int ENOBUFS = 105;
    internal const int ECONNREFUSED = 111;

    /// <summary>The conventional name of an errno value, for messages.</summary>
    internal static string Name(int errno) => errno switch
    {
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        ESRCH => "ESRCH",
        EBADF => "EBADF",
        ECHILD => "ECHILD",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        EPIPE => "EPIPE",
        ENOSYS => "ENOSYS",
        ELOOP => "ELOOP",
        EADDRINUSE => "EADDRINUSE",
        ECONNABORTED => "ECONNABORTED",
        ECONNRESET => "ECONNRESET",
        ENOBUFS => "ENOBUFS",
        ECONNREFUSED => "ECONNREFUSED",
        _ => $"errno {errno}",
    };

    /// <summary>" (too many open files)" or " (out of memory)" for a shortage, for a fork error's message.</summary>
    internal static string ShortageHint(int errno) => errno switch
    {
        EMFILE or ENFILE => " (too many open files)",
        ENOMEM => " (out of memory)",
        EAGAIN => " (the process limit was reached)",
        _ => "",
    };
}
