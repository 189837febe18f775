namespace PProcess;

/// <summary>Settings of <see cref="PMapExtensions.PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>.</summary>
public sealed class PMapOptions : ChannelOptions
{
    private int? limit;
    private int? batchSize;
    private TimeSpan? jobTimeout;
    private PMapMode mode = PMapMode.Adaptive;
    private long? childMemoryBudget;
    private int retries;
    private int? maxElementsPerChild;

    /// <summary>The most children alive at once; null (the default) is <see cref="Cores.Usable"/>. At least 1.</summary>
    public int? Limit
    {
        get => limit;
        set => limit = ValidLimit(value, "PMap's limit (children alive at once)");
    }

    /// <summary>
    /// How the elements are shared out among children: by default (<see cref="PMapMode.Adaptive"/>)
    /// at most <see cref="Limit"/> children are forked once and serve chunks of elements whose size
    /// adapts to the measured work; <see cref="PMapMode.ForkPerElement"/> is pprocess's pmap, a
    /// fork per element (docs/performance.md has what each costs).
    /// </summary>
    public PMapMode Mode
    {
        get => mode;
        set => mode = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown PMap mode.");
    }

    /// <summary>
    /// Elements per chunk, fixed. Null (the default): in <see cref="PMapMode.Adaptive"/> mode the
    /// size adapts to the measured time per element; in <see cref="PMapMode.ForkPerElement"/> mode
    /// one element per fork. With <see cref="PMapMode.ForkPerElement"/>, more than 1 spreads the
    /// cost of a fork (or of a hand-over, with <see cref="Reuse"/>) over many small elements. At least 1.
    /// </summary>
    public int? BatchSize
    {
        get => batchSize;
        set => batchSize = value is < 1
            ? throw new ArgumentOutOfRangeException(nameof(value), value, "PMap's batch size must be at least 1 (or null: adaptive).")
            : value;
    }

    /// <summary>
    /// <see cref="PMapMode.ForkPerElement"/> mode only: keep each child alive and hand it the next
    /// batch over its channel instead of forking per batch (pprocess's MakeReusable); the elements
    /// then cross through the serializer, so they must be serialisable. In
    /// <see cref="PMapMode.Adaptive"/> mode the children are always kept, and this changes nothing.
    /// </summary>
    public bool Reuse { get; set; }

    /// <summary>
    /// How long one element may run (with <see cref="PMapMode.ForkPerElement"/>, one batch); a child
    /// still working on it after that is killed, and the enumeration raises
    /// <see cref="ChildTimeoutException"/> at that element, after the results before it. Null (the default): no limit.
    /// </summary>
    public TimeSpan? JobTimeout
    {
        get => jobTimeout;
        set => jobTimeout = ValidJobTimeout(value);
    }

    /// <summary>
    /// Told how far the map is each time results arrive: the elements done so far and, when the
    /// source is an array, a list or a collection, their total. Called on the thread that
    /// enumerates, between waits; null (the default): no reports.
    /// </summary>
    public IProgress<MapProgress>? Progress { get; set; }

    /// <summary>
    /// <see cref="PMapMode.Adaptive"/> mode: the bytes a kept child's own objects may take (its
    /// managed heap's growth since its fork) before it is replaced by a fresh fork, after its
    /// current chunk; no element is lost or run twice. Null (the default): no such cap; with
    /// <see cref="ChannelOptions.KeepHeapShared"/> a child is still replaced when the collector says
    /// its next collection would be a full one, which would copy the parent's heap
    /// (docs/performance.md, "Copy-on-write that holds"). At least 1.
    /// </summary>
    public long? ChildMemoryBudget
    {
        get => childMemoryBudget;
        set => childMemoryBudget = ValidBudget(value);
    }

    /// <summary>
    /// <see cref="PMapMode.Adaptive"/> mode: filled while the map runs with what its children
    /// un-share of this process's memory, and how many were replaced to keep it shared. Measuring
    /// a child's private memory reads /proc (about 3 ms per 400 MB child), once per child at its
    /// replacement or at the map's end; null (the default): nothing is measured.
    /// </summary>
    public SharingInsights? Sharing { get; set; }

    /// <summary>
    /// <see cref="PMapMode.Adaptive"/> mode: how many more times a failed element is tried, alone,
    /// each time in a child forked for it, when <see cref="RetryWhen"/> accepts its failure. The
    /// elements after it are not held back meanwhile, and each result still arrives once, in
    /// order. When every attempt failed, the element fails with a
    /// <see cref="RetriesExhaustedException"/> that lists each attempt (its child's pid and how it
    /// ended). 0 (the default): no retries. At least 0.
    /// </summary>
    public int Retries
    {
        get => retries;
        set => retries = ValidRetries(value, "PMap's retries");
    }

    /// <summary>
    /// Which failures <see cref="Retries"/> applies to. Null (the default): a child that died
    /// (<see cref="ChildExitedException"/>: a signal, an exit, the OOM killer) or ran past
    /// <see cref="JobTimeout"/> (<see cref="ChildTimeoutException"/>), not an exception the selector
    /// threw, which would usually throw again; give <c>e => e is RemoteException { RemoteType: "System.IO.IOException" }</c>
    /// to retry one exception type, or <c>_ => true</c> for every failure. Called on the enumerating thread.
    /// </summary>
    public Func<Exception, bool>? RetryWhen { get; set; }

    /// <summary>
    /// <see cref="PMapMode.Adaptive"/> mode: a kept child is replaced by a fresh fork once it has
    /// computed this many elements (multiprocessing's maxtasksperchild): chunks are cut so that
    /// none takes a child past it, and the child leaves between chunks, through the same path as a
    /// child that is over <see cref="ChildMemoryBudget"/>, so no element is lost or run twice.
    /// Null (the default): children serve until the map ends. At least 1.
    /// </summary>
    public int? MaxElementsPerChild
    {
        get => maxElementsPerChild;
        set => maxElementsPerChild = ValidLimit(value, "PMap's elements per child");
    }

    /// <summary>
    /// Refuses what <see cref="PMapMode.ForkPerElement"/> mode does not have yet: outcomes
    /// (<paramref name="outcomes"/>), retries and recycling.
    /// </summary>
    internal void CheckMode(bool outcomes)
    {
        if (Mode != PMapMode.ForkPerElement)
        {
            return;
        }
        string? what = outcomes ? "PMapOutcomes" : Retries > 0 ? "PMapOptions.Retries" : MaxElementsPerChild is not null ? "PMapOptions.MaxElementsPerChild" : null;
        if (what is not null)
        {
            throw new NotSupportedException($"{what} needs PMapMode.Adaptive (the default): PMapMode.ForkPerElement has no outcomes, retries or recycling yet.");
        }
    }

    /// <summary>
    /// Called on the enumerating thread each time the map is about to wait for its children;
    /// returns how long it may wait before calling again. PProcess.Mpi's rank 0 answers the other
    /// ranks there while its own children work (docs/scaling.md). Null (the default): nothing.
    /// </summary>
    internal Func<TimeSpan>? WhileWaiting { get; set; }
}
