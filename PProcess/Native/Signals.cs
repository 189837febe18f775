namespace PProcess.Native;

/// <summary>Names and sets of signals used by the fork and its error messages (Linux numbers, the same on x86-64 and arm64).</summary>
internal static class Signals
{
    internal const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGABRT = 6, SIGKILL = 9, SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12,
        SIGPIPE = 13, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGWINCH = 28;

    /// <summary>
    /// Signals that the .NET runtime routes through a pipe read by a thread of the parent.
    /// A child must reset them to SIG_DFL before anything else, or a signal sent to the child
    /// is handled by the parent (fork-safety rule 5). SIGSEGV/SIGFPE stay (NullReferenceException
    /// depends on them) and SIGPIPE stays ignored (writes to a closed socket fail with EPIPE).
    /// </summary>
    internal static readonly int[] ResetInChild =
        [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGCONT, SIGWINCH, SIGTSTP, SIGUSR1, SIGUSR2];

    /// <summary>
    /// Signals a child ignores: it is in a process group of its own, not the terminal's foreground
    /// group, and the terminal stops a background process that reads from it or changes its settings
    /// (SIGTTIN, SIGTTOU); ignored, the read fails with EIO and the change is made, instead of a
    /// child stopped for ever.
    /// </summary>
    internal static readonly int[] IgnoredInChild = [SIGTTIN, SIGTTOU];

    private static readonly string[] Names =
    [
        "", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV",
        "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU",
        "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    /// <summary>The conventional name of a signal number, such as SIGKILL.</summary>
    internal static string Name(int signal) => signal > 0 && signal < Names.Length ? Names[signal] : $"signal {signal}";
}
