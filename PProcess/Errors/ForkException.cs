namespace PProcess;

/// <summary>fork() itself failed (for example EAGAIN at the process limit, or ENOMEM).</summary>
public sealed class ForkException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ForkException(string message, int errno) : base(message, errno) => Errno = errno;

    /// <summary>The errno that fork or socketpair returned.</summary>
    public int Errno { get; }
}
