using PProcess.Exchanges;
using PProcess.Persistence;
using PProcess.Serialization;

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

    /// <summary>Creates the callable; nothing starts yet.</summary>
    /// <param name="address">The socket path: at most 107 bytes, in an existing directory (ideally mode 0700).</param>
    /// <param name="callable">The job: it sends its results over the channel, any number of them.</param>
    /// <param name="logPath">A file for the background process's standard output and error (appended, mode 0600); null: /dev/null.</param>
    /// <param name="serializer">The serializer of the results.</param>
    public BackgroundCallable(string address, Action<Channel> callable, string? logPath = null, IChannelSerializer? serializer = null)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Address = UnixSocketAddress.Validate(address);
        this.callable = callable;
        LogPath = logPath;
        Serializer = serializer ?? DefaultChannelSerializer.Instance;
    }

    /// <summary>The absolute socket path.</summary>
    public string Address { get; }

    /// <summary>Where the background process's output goes, or null for /dev/null.</summary>
    public string? LogPath { get; }

    /// <summary>The serializer of the results.</summary>
    public IChannelSerializer Serializer { get; }

    /// <summary>
    /// Starts the background process and returns once it listens. Raises
    /// <see cref="PersistentProcessException"/> when the address is in use by a live process or
    /// unusable; a socket file left by a crashed run is replaced.
    /// </summary>
    public BackgroundProcess Start() =>
        BackgroundProcess.Start(Address, callable, JobNames.Describe(WrappedJob.Of(callable)?.Function ?? callable), LogPath, Serializer);
}
