namespace PProcess;

/// <summary>fork() itself failed (for example EAGAIN at the process limit, or ENOMEM).</summary>
public sealed class ForkException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ForkException(string message, int errno) : base(message, errno) => Errno = errno;

    /// <summary>The errno that fork or socketpair returned.</summary>
    public int Errno { get; }

    /// <summary>
    /// True for a shortage that a child ending can relieve: EAGAIN (the process limit), ENOMEM,
    /// EMFILE or ENFILE (descriptors). An exchange keeps such a job queued while it has children.
    /// </summary>
    public bool IsResourceShortage => Errno is 11 or 12 or 23 or 24;
}
