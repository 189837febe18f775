using PProcess.Persistence;
using PProcess.Processes;

namespace PProcess;

/// <summary>
/// pprocess's BackgroundCallable: runs a job in a background process listening at a named Unix
/// socket. <see cref="Start()"/> returns once the process listens; the job's results wait there
/// until a collector (<see cref="BackgroundQueue{TResult}"/>, or any
/// <see cref="PersistentExchange"/> through Connect), in this run or a later one, has received
/// them all and confirmed. See docs/persistence.md.
/// </summary>
public sealed class BackgroundCallable
{
    private readonly Action<Channel> callable;
    private readonly Delegate function;
    private readonly PersistentExchangeOptions options;

    /// <summary>Creates the callable; nothing starts yet.</summary>
    /// <param name="address">The socket path: at most 107 bytes, in an existing directory (ideally mode 0700).</param>
    /// <param name="callable">The job: it sends its results over the channel, any number of them.</param>
    /// <param name="options">The log file (null: /dev/null) and the results' serializer.</param>
    public BackgroundCallable(string address, Action<Channel> callable, PersistentExchangeOptions? options = null)
        : this(address, callable, callable, options)
    {
    }

    /// <summary>Creates the callable from a job made by MakeParallel, whose one result is the function's value.</summary>
    /// <inheritdoc cref="BackgroundCallable(string, Action{Channel}, PersistentExchangeOptions?)"/>
    public BackgroundCallable(string address, ParallelJob job, PersistentExchangeOptions? options = null)
        : this(address, job?.Body!, job?.Function!, options)
    {
    }

    private BackgroundCallable(string address, Action<Channel> callable, Delegate function, PersistentExchangeOptions? options)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Tasks.AsyncJobs.RefuseAsync(function, "BackgroundCallable");
        Address = UnixSocketAddress.Validate(address);
        this.callable = callable;
        this.function = function;
        this.options = options is null ? new PersistentExchangeOptions() : ChannelOptions.Snapshot(options);
    }

    /// <summary>The absolute socket path.</summary>
    public string Address { get; }

    /// <summary>Where the background process's output goes, or null for /dev/null.</summary>
    public string? LogPath => options.LogPath;

    /// <summary>The serializer of the results.</summary>
    public PProcess.Serialization.IChannelSerializer Serializer => options.Serializer;

    /// <summary>
    /// Starts the background process and returns once it listens. Raises
    /// <see cref="PersistentProcessException"/> when the address is in use by a live process or
    /// unusable; a socket file left by a crashed run is replaced.
    /// </summary>
    public BackgroundProcess Start()
    {
        Runtime.ChildPath.Prepare(function);
        return BackgroundProcess.Start(Address, callable, JobNames.Describe(function), options);
    }
}
