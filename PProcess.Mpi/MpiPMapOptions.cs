using PProcess.Serialization;

namespace PProcess.Mpi;

/// <summary>How the elements of a map across ranks are shared out.</summary>
public enum MpiDeal
{
    /// <summary>
    /// Rank 0 hands out ranges of indices as ranks ask for them, large first and smaller towards the
    /// end, so that a slow rank takes less and holds nobody back (docs/scaling.md has the measurement).
    /// </summary>
    Dynamic,

    /// <summary>
    /// Fixed ranges dealt round-robin by rank, without asking: chunk c goes to rank c mod size.
    /// No requests, but a slow rank delays the end by its whole share.
    /// </summary>
    Interleaved,
}

/// <summary>Options of <see cref="MpiPMapExtensions.PMapAcrossRanks{T, TResult}"/>; every rank must pass the same.</summary>
public sealed class MpiPMapOptions
{
    /// <summary>The most children alive at once on each rank; by default each rank's <see cref="Cores.Usable"/>.</summary>
    public int? Limit { get; set; }

    /// <summary>Elements per chunk of a rank's local PMap (see <see cref="PMapOptions.BatchSize"/>); null (the default): adaptive.</summary>
    public int? BatchSize { get; set; }

    /// <summary>
    /// With <see cref="PMapMode.ForkPerElement"/>: keep each rank's children alive and hand them
    /// batches over their channels (see <see cref="PMapOptions.Reuse"/>).
    /// </summary>
    public bool Reuse { get; set; }

    /// <summary>
    /// Elements per dealt range. Null: <see cref="MpiDeal.Dynamic"/> deals a quarter of what is left
    /// divided by the number of ranks, at least the asking rank's <see cref="Limit"/> times <see cref="BatchSize"/>;
    /// <see cref="MpiDeal.Interleaved"/> deals sixteen ranges per rank.
    /// </summary>
    public int? ChunkSize { get; set; }

    /// <summary>How each rank's local PMap shares its elements among its children (see <see cref="PMapOptions.Mode"/>).</summary>
    public PMapMode Mode { get; set; } = PMapMode.Adaptive;

    /// <summary>How ranges are dealt: on request (the default) or round-robin.</summary>
    public MpiDeal Deal { get; set; } = MpiDeal.Dynamic;

    /// <summary>Every rank receives the full results (broadcast by rank 0), instead of rank 0 only.</summary>
    public bool ResultsOnEveryRank { get; set; }

    /// <summary>The serializer for results, from the children to their rank and from the ranks to rank 0.</summary>
    public IChannelSerializer? Serializer { get; set; }

    /// <summary>How results travel from the children to their rank (see PMap's transport).</summary>
    public ChannelTransportKind? Transport { get; set; }

    /// <summary>
    /// How long one element (with <see cref="PMapMode.ForkPerElement"/>, one batch) may run in a
    /// rank's child before the child is killed and that element fails with
    /// <see cref="ChildTimeoutException"/> (see <see cref="PMapOptions.JobTimeout"/>); null (the default): no limit.
    /// </summary>
    public TimeSpan? JobTimeout { get; set; }

    /// <summary>
    /// How long the whole map may take, from the call on each rank; after that, the job ends
    /// through MPI_Abort with a message naming the ranks that had not finished (rank 0 says it; a
    /// rank waiting for rank 0 past it says it waited for rank 0). Null (the default): no limit.
    /// </summary>
    public TimeSpan? MapTimeout { get; set; }

    /// <summary>
    /// How long a rank may go without finishing an element, in source order, or saying it is done;
    /// after that the job ends through MPI_Abort with a message naming the rank and the first
    /// element it owes: a rank that hangs (an element without a <see cref="JobTimeout"/>, a stopped
    /// process) must not hold every other rank for ever. A rank other than 0 waits for rank 0's
    /// answers this long at most, too. Set it above the time one element takes. Null (the default): no limit.
    /// </summary>
    public TimeSpan? RankSilenceTimeout { get; set; }

    /// <summary>
    /// How many more times an element that failed in a rank's child is tried again, alone, in a
    /// child forked for it on the same rank, when <see cref="RetryWhen"/> accepts the failure (see
    /// <see cref="PMapOptions.Retries"/>); 0 (the default): none. At least 0.
    /// </summary>
    public int Retries { get; set; }

    /// <summary>Which failures <see cref="Retries"/> applies to (see <see cref="PMapOptions.RetryWhen"/>); null (the default): a child's death or timeout.</summary>
    public Func<Exception, bool>? RetryWhen { get; set; }

    /// <summary>A rank's kept child is replaced by a fresh fork after this many elements (see <see cref="PMapOptions.MaxElementsPerChild"/>); null (the default): never.</summary>
    public int? MaxElementsPerChild { get; set; }

    internal void Validate()
    {
        if (Limit is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Limit), Limit, "The limit is the number of children alive at once on a rank and must be at least 1.");
        }
        if (BatchSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "A batch holds at least one element (or null: adaptive).");
        }
        if (!Enum.IsDefined(Mode))
        {
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, "Unknown PMap mode.");
        }
        if (ChunkSize is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(ChunkSize), ChunkSize, "A dealt range holds at least one element.");
        }
        if (!Enum.IsDefined(Deal))
        {
            throw new ArgumentOutOfRangeException(nameof(Deal), Deal, "Unknown way of dealing.");
        }
        if (Retries < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Retries), Retries, "Retries must be at least 0.");
        }
        if (MaxElementsPerChild is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxElementsPerChild), MaxElementsPerChild, "A child computes at least one element before it is replaced (or null: never).");
        }
        CheckTimeout(JobTimeout, nameof(JobTimeout));
        CheckTimeout(MapTimeout, nameof(MapTimeout));
        CheckTimeout(RankSilenceTimeout, nameof(RankSilenceTimeout));
    }

    private static void CheckTimeout(TimeSpan? timeout, string name)
    {
        if (timeout is { } t && (t <= TimeSpan.Zero || t == Timeout.InfiniteTimeSpan))
        {
            throw new ArgumentOutOfRangeException(name, t, $"{name} must be a positive time (or null for none).");
        }
    }

    /// <summary>The options of each rank's local PMap.</summary>
    internal PMapOptions ToPMapOptions()
    {
        var local = new PMapOptions
        {
            Limit = Limit, Mode = Mode, BatchSize = BatchSize, Reuse = Reuse, JobTimeout = JobTimeout,
            Retries = Retries, RetryWhen = RetryWhen, MaxElementsPerChild = MaxElementsPerChild,
        };
        if (Serializer is not null)
        {
            local.Serializer = Serializer;
        }
        if (Transport is { } transport)
        {
            local.Transport = transport;
        }
        return local;
    }
}
