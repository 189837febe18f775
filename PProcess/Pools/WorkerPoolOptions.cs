namespace PProcess;

/// <summary>Settings of a <see cref="WorkerPool{TState}"/>: shared memory by default, as in multicore.</summary>
public sealed class WorkerPoolOptions : ChannelOptions
{
    private int? workers;

    /// <summary>Creates the settings, with <see cref="ChannelTransportKind.SharedMemory"/> as the transport.</summary>
    public WorkerPoolOptions() => Transport = ChannelTransportKind.SharedMemory;

    /// <summary>How many workers to fork; null (the default) is <see cref="Cores.Usable"/>. At least 1.</summary>
    public int? Workers
    {
        get => workers;
        set => workers = ValidLimit(value, "A pool's number of workers");
    }

    /// <summary>Replace a worker that dies (forked from the pool's own thread, after the quiescence wait). True by default.</summary>
    public bool ReplaceDeadWorkers { get; set; } = true;
}
