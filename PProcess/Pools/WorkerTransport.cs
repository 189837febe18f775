namespace PProcess;

/// <summary>How a <see cref="WorkerPool{TState}"/> talks to its workers.</summary>
public enum WorkerTransport
{
    /// <summary>
    /// Rings in shared memory with eventfd wake-ups (<see cref="ChannelTransportKind.SharedMemory"/>):
    /// the default, as in multicore, for the shortest round trips (docs/performance.md).
    /// </summary>
    SharedMemory,

    /// <summary>A Unix socketpair per worker (<see cref="ChannelTransportKind.Socket"/>).</summary>
    Socket,
}
