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

    /// <summary>How long one child job may run (see PMap's timeout); null: no limit.</summary>
    public TimeSpan? Timeout { get; set; }

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
        if (Timeout is { } t && t <= TimeSpan.Zero && t != System.Threading.Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), t, "The timeout must be positive (or null for none).");
        }
    }

    /// <summary>The options of each rank's local PMap.</summary>
    internal PMapOptions ToPMapOptions()
    {
        var local = new PMapOptions { Limit = Limit, Mode = Mode, BatchSize = BatchSize, Reuse = Reuse, JobTimeout = Timeout };
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
