namespace PProcess.Mpi;

/// <summary>
/// MPI could not be used: no MPI library could be loaded, it is not of the MPICH ABI, the launcher and
/// MPI disagree on the number of ranks, or an MPI call failed. Raised on the rank that met it.
/// </summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MpiException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
