namespace PProcess;

/// <summary>
/// A child that ended without delivering what it owed: it died of a signal, exited with a
/// non-zero code, or exited without sending a result. Carries the child's exit status.
/// </summary>
public sealed class ChildExitedException : ChildProcessException
{
    /// <summary>Creates the exception.</summary>
    public ChildExitedException(string message, int pid, string? job, ChildStatus status)
        : base(message, pid, job) => Status = status;

    /// <summary>How the child ended.</summary>
    public ChildStatus Status { get; }

    /// <summary>The exit code, when the child exited normally.</summary>
    public int? ExitCode => Status.ExitCode;

    /// <summary>The number of the signal that killed the child, if one did.</summary>
    public int? Signal => Status.Signal;
}
