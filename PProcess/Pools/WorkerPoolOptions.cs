using PProcess.Serialization;

namespace PProcess;

/// <summary>Settings of a <see cref="WorkerPool{TState}"/>.</summary>
public sealed record WorkerPoolOptions
{
    /// <summary>How many workers to fork; default <see cref="Cores.Usable"/>. Less than 1 is refused.</summary>
    public int? Workers { get; init; }

    /// <summary>The channel transport to the workers: shared memory by default, as in multicore.</summary>
    public WorkerTransport Transport { get; init; } = WorkerTransport.SharedMemory;

    /// <summary>Serializer for arguments and results; default <see cref="DefaultChannelSerializer.Instance"/>.</summary>
    public IChannelSerializer? Serializer { get; init; }

    /// <summary>Replace a worker that dies (forked from the pool's own thread, after the quiescence wait). Default true.</summary>
    public bool ReplaceDeadWorkers { get; init; } = true;
}
