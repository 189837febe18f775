namespace PProcess.Mpi.Dealing;

/// <summary>
/// A failure of a map across ranks itself (MPI, a malformed message, a deadline), as opposed to an
/// element's, raised through the rank's local PMap: marked, so that it is not taken for an
/// element's failure. It ends the job.
/// </summary>
internal sealed class MapFault(Exception inner) : Exception(inner.Message, inner);
