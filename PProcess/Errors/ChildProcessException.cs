namespace PProcess;

/// <summary>
/// The base of the errors that concern one child process: it names the child's pid and its job.
/// </summary>
public abstract class ChildProcessException : Exception
{
    /// <summary>Creates the exception.</summary>
    protected ChildProcessException(string message, int pid, string? job, Exception? inner = null)
        : base(message, inner)
    {
        Pid = pid;
        Job = job;
    }

    /// <summary>The child's process id.</summary>
    public int Pid { get; }

    /// <summary>A description of the job the child was running, or null when it had none.</summary>
    public string? Job { get; }

    /// <summary>"child 1234 (job 'X')", for messages.</summary>
    internal static string Describe(int pid, string? job) =>
        pid == 0 && job is not null ? job
        : job is null ? $"child process {pid}" : $"child process {pid} (job {job})";
}
