namespace PProcess;

/// <summary>
/// How a <see cref="WorkerPool{TState}"/> talks to its workers. The pool asks for its channels
/// through this option only, so that a new transport is one more member here and one more case in
/// the pool's <c>SpawnWorker</c>.
/// </summary>
public enum WorkerTransport
{
    /// <summary>A Unix socketpair per worker (the transport of every channel today).</summary>
    Socket,
}
