namespace PProcess;

/// <summary>Settings of an <see cref="Exchange"/>, <see cref="Map{TResult}"/> or <see cref="ResultQueue{TResult}"/>.</summary>
public sealed class ExchangeOptions : ChannelOptions
{
    private int? limit;
    private TimeSpan? jobTimeout;
    private int? maxJobsPerChild;

    /// <summary>The most children alive at once; null (the default) is <see cref="Cores.Usable"/>. At least 1.</summary>
    public int? Limit
    {
        get => limit;
        set => limit = ValidLimit(value, "An exchange's limit (children alive at once)");
    }

    /// <summary>
    /// Reuse children: a child running a <see cref="Exchange.MakeReusable{T1, TResult}"/> job that has sent
    /// its result receives the next queued job of the same job over its channel instead of a new fork,
    /// and is told to quit when no such job is queued. Not with <see cref="Continuous"/>.
    /// </summary>
    public bool Reuse { get; set; }

    /// <summary>
    /// With <see cref="Reuse"/>: a reusable child is told to quit once it has answered this many
    /// jobs (multiprocessing's maxtasksperchild), and the next job goes to a new child; it owes
    /// nothing when it leaves, so no job is lost. Null (the default): children serve until no
    /// queued job can use them. At least 1.
    /// </summary>
    public int? MaxJobsPerChild
    {
        get => maxJobsPerChild;
        set => maxJobsPerChild = ValidLimit(value, "An exchange's jobs per child");
    }

    /// <summary>Children send many messages: a child that ends after any number of them is not an error. Not with <see cref="Reuse"/>.</summary>
    public bool Continuous { get; set; }

    /// <summary>Close a channel and reap its child when it is removed; true by default.</summary>
    public bool Autoclose { get; set; } = true;

    /// <summary>
    /// How long one job may run (from its fork or hand-over to its result; in continuous mode, the
    /// child's whole life). A child still working after that is killed and reaped, and its job fails
    /// with <see cref="ChildTimeoutException"/>. Null (the default): no limit.
    /// </summary>
    public TimeSpan? JobTimeout
    {
        get => jobTimeout;
        set => jobTimeout = ValidJobTimeout(value);
    }

    /// <summary>
    /// A <see cref="Map{TResult}"/> or <see cref="ResultQueue{TResult}"/> reports here each time a
    /// job's result (for a continuous queue, a message) or failure arrives: how many have arrived so
    /// far (<see cref="MapProgress.Total"/> is null: an exchange cannot know how many jobs will be
    /// started). Called on the thread that drives the exchange. Null (the default): no reports.
    /// A plain <see cref="Exchange"/> does not report: its <see cref="Exchange.StoreData"/> is yours.
    /// </summary>
    public IProgress<MapProgress>? Progress { get; set; }
}
