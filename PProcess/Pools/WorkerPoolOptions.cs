namespace PProcess;

/// <summary>Settings of a <see cref="WorkerPool{TState}"/>: shared memory by default, as in multicore.</summary>
public sealed class WorkerPoolOptions : ChannelOptions
{
    private int? workers;
    private long? childMemoryBudget;
    private int retries;
    private int? maxJobsPerWorker;

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

    /// <summary>
    /// How many more times a failed job is queued again when <see cref="RetryWhen"/> accepts its
    /// failure; it runs on the next free worker (a dead worker's replacement is a fresh fork). When
    /// every attempt failed, the job fails with a <see cref="RetriesExhaustedException"/> that lists
    /// each attempt (the worker's pid and how it ended). 0 (the default): no retries. At least 0.
    /// </summary>
    public int Retries
    {
        get => retries;
        set => retries = ValidRetries(value, "A pool's retries");
    }

    /// <summary>
    /// Which failures <see cref="Retries"/> applies to. Null (the default): a worker that died
    /// running the job (<see cref="ChildExitedException"/>), not an exception the job threw. Called
    /// on the pool's thread; an exception it throws fails the job.
    /// </summary>
    public Func<Exception, bool>? RetryWhen { get; set; }

    /// <summary>
    /// A worker is replaced by a fresh fork once it has run this many jobs (multiprocessing's
    /// maxtasksperchild), between jobs, through the same path as a worker over
    /// <see cref="ChildMemoryBudget"/>: its state is made again by the initializer in the new worker,
    /// and no job is lost. While other threads keep the process from forking, it serves on until a
    /// replacement can be made. Null (the default): workers serve until they die or the pool ends. At least 1.
    /// </summary>
    public int? MaxJobsPerWorker
    {
        get => maxJobsPerWorker;
        set => maxJobsPerWorker = ValidLimit(value, "A pool's jobs per worker");
    }
}
