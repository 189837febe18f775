using Mono.Unix.Native;

namespace PProcess.Native;

/// <summary>Names and sets of signals used by the fork and its error messages.</summary>
internal static class Signals
{
    /// <summary>
    /// Signals that the .NET runtime routes through a pipe read by a thread of the parent.
    /// A child must reset them to SIG_DFL before anything else, or a signal sent to the child
    /// is handled by the parent (fork-safety rule 5). SIGSEGV/SIGFPE stay (NullReferenceException
    /// depends on them) and SIGPIPE stays ignored (writes to a closed socket fail with EPIPE).
    /// </summary>
    /// <remarks>
    /// Linux numbers (the same on x86-64 and arm64), converted once in the parent, so that the
    /// child makes no conversion calls of its own before its signals are reset.
    /// </remarks>
    internal static readonly int[] ResetInChild =
    [
        .. new[]
        {
            Signum.SIGTERM, Signum.SIGINT, Signum.SIGQUIT, Signum.SIGHUP, Signum.SIGCHLD,
            Signum.SIGCONT, Signum.SIGWINCH, Signum.SIGTTIN, Signum.SIGTTOU, Signum.SIGTSTP,
            Signum.SIGUSR1, Signum.SIGUSR2,
        }.Select(NativeConvert.FromSignum),
    ];

    internal static readonly int SIGKILL = NativeConvert.FromSignum(Signum.SIGKILL);

    /// <summary>The conventional name of a signal number, such as SIGKILL.</summary>
    internal static string Name(int signal)
    {
        try
        {
            var signum = NativeConvert.ToSignum(signal);
            return Enum.IsDefined(signum) ? signum.ToString() : $"signal {signal}";
        }
        catch (ArgumentException)
        {
            return $"signal {signal}";
        }
    }
}
