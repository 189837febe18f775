namespace PProcess;

/// <summary>Settings of <see cref="PMapExtensions.PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>.</summary>
public sealed class PMapOptions : ChannelOptions
{
    private int? limit;
    private int batchSize = 1;
    private TimeSpan? jobTimeout;

    /// <summary>The most children alive at once; null (the default) is <see cref="Cores.Usable"/>. At least 1.</summary>
    public int? Limit
    {
        get => limit;
        set => limit = ValidLimit(value, "PMap's limit (children alive at once)");
    }

    /// <summary>Elements per child job: more than 1 spreads the cost of a fork (or of a hand-over) over many small elements. At least 1.</summary>
    public int BatchSize
    {
        get => batchSize;
        set => batchSize = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "PMap's batch size must be at least 1.");
    }

    /// <summary>
    /// Keep each child alive and hand it the next batch over its channel instead of forking per batch.
    /// The elements then cross through the serializer, so they must be serialisable.
    /// </summary>
    public bool Reuse { get; set; }

    /// <summary>
    /// How long one batch may run; a child still working after that is killed, and the enumeration
    /// raises <see cref="ChildTimeoutException"/> at the batch's first element. Null (the default): no limit.
    /// </summary>
    public TimeSpan? JobTimeout
    {
        get => jobTimeout;
        set => jobTimeout = ValidJobTimeout(value);
    }
}
