namespace PProcess;

/// <summary>
/// A problem with a persistent (background) process or its socket address: the address is
/// unusable or in use, nothing listens there, or the background process ended before a
/// collector had received and confirmed all of its results. Names the address.
/// </summary>
public sealed class PersistentProcessException : IOException
{
    /// <summary>Creates the exception.</summary>
    public PersistentProcessException(string message, string address, Exception? inner = null)
        : base(message, inner) => Address = address;

    /// <summary>The socket address concerned.</summary>
    public string Address { get; }
}
