namespace PProcess;

/// <summary>A child whose job ran longer than the exchange's job timeout: it was killed with SIGKILL and reaped.</summary>
public sealed class ChildTimeoutException : ChildProcessException
{
    /// <summary>Creates the exception.</summary>
    public ChildTimeoutException(string message, int pid, string? job, TimeSpan timeout)
        : base(message, pid, job) => Timeout = timeout;

    /// <summary>The time the job was allowed.</summary>
    public TimeSpan Timeout { get; }
}
