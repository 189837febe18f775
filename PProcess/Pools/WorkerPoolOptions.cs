namespace PProcess;

/// <summary>Settings of a <see cref="WorkerPool{TState}"/>: shared memory by default, as in multicore.</summary>
public sealed class WorkerPoolOptions : ChannelOptions
{
    private int? workers;
    private long? childMemoryBudget;

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

    /// <summary>
    /// The bytes a worker's own objects may take (its managed heap's growth since its fork) before
    /// it is replaced by a fresh fork, between jobs; its state is made again by the initializer in
    /// the new worker, and no job is lost. Null (the default): no such cap; with
    /// <see cref="ChannelOptions.KeepHeapShared"/> a worker is still replaced when the collector
    /// says its next collection would be a full one, which would copy the parent's heap
    /// (docs/performance.md, "Copy-on-write that holds"). At least 1.
    /// </summary>
    public long? ChildMemoryBudget
    {
        get => childMemoryBudget;
        set => childMemoryBudget = ValidBudget(value);
    }
}
