using PProcess.Serialization;

namespace PProcess;

/// <summary>
/// Settings of the channels a fork creates, in the style of System.Threading.Channels' options:
/// each setter checks its value. The base of <see cref="ExchangeOptions"/>, <see cref="PMapOptions"/>,
/// <see cref="WorkerPoolOptions"/> and <see cref="PersistentExchangeOptions"/>.
/// </summary>
public class ChannelOptions
{
    private IChannelSerializer serializer = DefaultChannelSerializer.Instance;
    private ChannelTransportKind transport = Fork.DefaultTransport;
    private TimeSpan exitGrace = TimeSpan.FromSeconds(5);
    private int ringCapacity = 1 << 20;
    private TimeSpan spinLimit = TimeSpan.FromMicroseconds(50);
    private long maxMessageSize = DefaultMaxMessageSize;

    /// <summary>The default of <see cref="MaxMessageSize"/>: 16 GiB, the largest array of 8-byte values .NET can hold.</summary>
    internal const long DefaultMaxMessageSize = 16L << 30;

    /// <summary>How values become bytes and back, at both ends; by default <see cref="DefaultChannelSerializer"/>.</summary>
    public IChannelSerializer Serializer
    {
        get => serializer;
        set => serializer = value ?? throw new ArgumentNullException(nameof(value), "A channel needs a serializer.");
    }

    /// <summary>
    /// How the bytes travel: a socketpair (the default) or shared memory, whose round trip is
    /// shorter (docs/performance.md). Results, errors and crash reports are the same.
    /// </summary>
    public ChannelTransportKind Transport
    {
        get => transport;
        set => transport = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown channel transport kind.");
    }

    /// <summary>How long a child that has closed its channel may take to exit before it is killed (and the error says so). Positive; 5 s by default.</summary>
    public TimeSpan ExitGrace
    {
        get => exitGrace;
        set => exitGrace = ValidPositive(value, "The exit grace");
    }

    /// <summary>Shared memory only: the bytes each direction's ring holds, a power of two of at least 4096; 1 MiB by default.</summary>
    public int RingCapacity
    {
        get => ringCapacity;
        set => ringCapacity = value >= 4096 && (value & (value - 1)) == 0
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"The ring capacity must be a power of two of at least 4096 bytes, not {value}.");
    }

    /// <summary>
    /// Shared memory only: how long a reader (or a writer facing a full ring) watches the ring
    /// before it asks for an eventfd wake-up and blocks; zero never spins. 50 µs by default
    /// (docs/performance.md).
    /// </summary>
    public TimeSpan SpinLimit
    {
        get => spinLimit;
        set => spinLimit = value >= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "The spin limit must be zero or a positive time.");
    }

    /// <summary>
    /// The largest message, in bytes of payload, that a channel sends or accepts; 16 GiB by default,
    /// enough for any array .NET holds (lower it to bound what a child may flood its parent with).
    /// A frame whose header announces more is refused as garbage before anything is allocated for it
    /// (and a value that would need more is refused when sent), so that a child cannot make its parent
    /// wait for, or hold, more than this. Memory is never allocated from what a header claims in any
    /// case: it grows with the bytes that arrive (docs/channels.md, "Limits"). At least 1 KiB.
    /// </summary>
    public long MaxMessageSize
    {
        get => maxMessageSize;
        set => maxMessageSize = value >= 1024
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"The maximum message size must be at least 1024 bytes, not {value}.");
    }

    /// <summary>
    /// Keep the parent's managed heap shared with the children (copy-on-write) while they live
    /// (docs/performance.md, "Copy-on-write that holds"): before a fork the parent makes its young
    /// objects old, or runs a full collection that is due, so that the children's collections leave
    /// its objects alone; each child keeps full collections away once the collector says one
    /// approaches, and a map's or a pool's children are then replaced by fresh forks between chunks
    /// or jobs. True by default. False leaves the collector to itself: a child's first full
    /// collection copies the whole inherited heap.
    /// </summary>
    public bool KeepHeapShared { get; set; } = true;

    /// <summary>Copies the settings a channel is made with (serializer, transport, grace, ring, spin, message limit, heap sharing) into new options.</summary>
    internal ChannelOptions ChannelSettings() => ChannelSettings<ChannelOptions>();

    /// <summary>
    /// Copies the settings this class holds into new options of another kind, without a subclass's
    /// own (a map's into its exchange's, say): the one place that lists them.
    /// </summary>
    internal TOptions ChannelSettings<TOptions>() where TOptions : ChannelOptions, new() => new()
    {
        Serializer = Serializer, Transport = Transport, ExitGrace = ExitGrace, RingCapacity = RingCapacity, SpinLimit = SpinLimit,
        MaxMessageSize = MaxMessageSize, KeepHeapShared = KeepHeapShared,
    };

    /// <summary>
    /// A copy of every setting, a subclass's included, taken when a call begins: a map, pool or
    /// exchange reads its options once, and a caller who changes (or reuses) the object afterwards
    /// changes nothing already started (options are read once, as System.Threading.Channels' are).
    /// </summary>
    internal static TOptions Snapshot<TOptions>(TOptions options) where TOptions : ChannelOptions =>
        (TOptions)((ChannelOptions)options).MemberwiseClone();

    /// <summary>The default settings (the test suite's default transport included).</summary>
    internal static ChannelOptions Default => new();

    /// <summary>Checks a limit of children alive at once: null is <see cref="Cores.Usable"/>.</summary>
    private protected static int? ValidLimit(int? value, string what) =>
        value is < 1 ? throw new ArgumentOutOfRangeException(nameof(value), value, $"{what} must be at least 1.") : value;

    /// <summary>Checks a time that must be positive and finite.</summary>
    private protected static TimeSpan ValidPositive(TimeSpan value, string what) =>
        value > TimeSpan.Zero && value != Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"{what} must be a positive time.");

    /// <summary>Checks a child's memory budget: null is "no cap".</summary>
    private protected static long? ValidBudget(long? value) =>
        value is < 1 ? throw new ArgumentOutOfRangeException(nameof(value), value, "A child's memory budget must be at least 1 byte (or null: no cap).") : value;

    /// <summary>Checks a number of retries (PMap's, a pool's): 0 is none.</summary>
    private protected static int ValidRetries(int value, string what) =>
        value < 0 ? throw new ArgumentOutOfRangeException(nameof(value), value, $"{what} must be at least 0.") : value;

    /// <summary>Checks a job timeout: null is the only "no limit".</summary>
    private protected static TimeSpan? ValidJobTimeout(TimeSpan? value) =>
        value is { } t && (t <= TimeSpan.Zero || t == Timeout.InfiniteTimeSpan)
            ? throw new ArgumentOutOfRangeException(nameof(value), t, "A job timeout must be a positive time (null for none).")
            : value;
}
