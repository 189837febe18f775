namespace PProcess;

/// <summary>
/// Settings of an <see cref="OrderedPipeline"/>: its workers and buffer, and the channel settings of
/// the <see cref="WorkerPool"/> it runs on (shared memory by default, as a pool's).
/// </summary>
public sealed class OrderedPipelineOptions : ChannelOptions
{
    private int? workers;
    private int? bufferSize;

    /// <summary>Creates the settings, with <see cref="ChannelTransportKind.SharedMemory"/> as the transport (a pool's default).</summary>
    public OrderedPipelineOptions() => Transport = ChannelTransportKind.SharedMemory;

    /// <summary>How many workers to fork (as <see cref="WorkerPoolOptions.Workers"/>); null (the default) is <see cref="Cores.Usable"/>. At least 1.</summary>
    public int? Workers
    {
        get => workers;
        set => workers = ValidLimit(value, "A pipeline's number of workers");
    }

    /// <summary>
    /// How many values may be in the pipeline (put and not yet got) before <c>Put</c> blocks; null
    /// (the default) is ten times <see cref="Cores.Usable"/>, as in parallel-queue. At least 1.
    /// </summary>
    public int? BufferSize
    {
        get => bufferSize;
        set => bufferSize = ValidLimit(value, "A pipeline's buffer size (values put and not yet got)");
    }
}
