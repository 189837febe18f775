using System.Globalization;
using PProcess.Channels;
using PProcess.Exchanges;
using PProcess.Native;
using PProcess.Persistence;
using PProcess.Serialization;

namespace PProcess;

/// <summary>
/// pprocess's PersistentExchange: jobs run in background processes, each listening at a named
/// Unix socket, that outlive the run that started them; this run or a later one connects to
/// them (<see cref="Connect"/>) and collects their results through <see cref="StoreData"/>.
/// <see cref="Start(string, Action{Channel})"/> starts at most <see cref="Limit"/> background
/// processes that are still computing; further jobs are queued and started as earlier ones finish
/// (<see cref="StartQueued"/> waits for that, for a run that starts jobs and leaves).
/// A background process keeps its results until a collector has received them all and
/// confirmed; a collector that disconnects early can connect again and gets the rest.
/// Not derived from <see cref="Exchange"/>: its channels lead to processes that are not its
/// children, so there is nothing to reap, and every connection follows the confirmation
/// protocol (docs/persistence.md). Not thread-safe.
/// </summary>
public class PersistentExchange : IDisposable
{
    private readonly JobQueue queue = new("A persistent exchange's limit (background processes computing at once)");
    private readonly List<BackgroundProcess> computing = [];
    private readonly List<BackgroundProcess> started = [];
    private readonly Dictionary<string, PersistentConnection> connections = [];
    private readonly Dictionary<string, long> heldFrom = [];
    private readonly HashSet<string> collected = [];
    private readonly PersistentExchangeOptions options;

    /// <summary>Creates a persistent exchange.</summary>
    /// <param name="options">Its limit, log file, confirmation timeout and the results' serializer; by default <see cref="PersistentExchangeOptions"/>'s.</param>
    public PersistentExchange(PersistentExchangeOptions? options = null)
    {
        // Read once: jobs started later use the settings of the construction, not the caller's object as it is then.
        this.options = options is null ? new PersistentExchangeOptions() : ChannelOptions.Snapshot(options);
        Limit = this.options.Limit ?? Cores.Usable;
    }

    /// <summary>Creates a persistent exchange with at most <paramref name="limit"/> background processes computing at once.</summary>
    public PersistentExchange(int limit)
        : this(new PersistentExchangeOptions { Limit = limit })
    {
    }

    /// <summary>The most background processes computing at once. At least 1.</summary>
    public int Limit
    {
        get => queue.Limit;
        set => queue.Limit = value;
    }

    /// <summary>The serializer of the results.</summary>
    public IChannelSerializer Serializer => options.Serializer;

    /// <summary>Where the background processes' output goes, or null for /dev/null.</summary>
    public string? LogPath => options.LogPath;

    /// <summary>The background processes this exchange has started so far.</summary>
    public IReadOnlyList<BackgroundProcess> Started => started;

    /// <summary>True when <see cref="Limit"/> background processes of this exchange are computing.</summary>
    public bool Busy() => computing.Count >= Limit;

    /// <summary>True while jobs are queued or computing, connections are open, or a failure has not been raised yet.</summary>
    public bool Unfinished() => queue.Waiting.Count > 0 || computing.Count > 0 || connections.Count > 0 || queue.HasFailures;

    /// <summary>
    /// Starts <paramref name="callable"/> in a background process listening at
    /// <paramref name="address"/>, or queues it while the exchange is busy. An address that is
    /// unusable or in use raises <see cref="PersistentProcessException"/> (from here, or for a
    /// queued job from the call that starts it).
    /// </summary>
    public void Start(string address, Action<Channel> callable) => Enqueue(address, callable, null, callable);

    /// <summary>Like <see cref="Start(string, Action{Channel})"/>, passing one argument.</summary>
    public void Start<T1>(string address, Action<Channel, T1> callable, T1 arg1) =>
        Enqueue(address, callable, null, c => callable(c, arg1), arg1);

    /// <summary>Like <see cref="Start(string, Action{Channel})"/>, passing two arguments.</summary>
    public void Start<T1, T2>(string address, Action<Channel, T1, T2> callable, T1 arg1, T2 arg2) =>
        Enqueue(address, callable, null, c => callable(c, arg1, arg2), arg1, arg2);

    /// <summary>Like <see cref="Start(string, Action{Channel})"/>, passing three arguments.</summary>
    public void Start<T1, T2, T3>(string address, Action<Channel, T1, T2, T3> callable, T1 arg1, T2 arg2, T3 arg3) =>
        Enqueue(address, callable, null, c => callable(c, arg1, arg2, arg3), arg1, arg2, arg3);

    /// <summary>Starts a job made by MakeParallel in a background process at <paramref name="address"/>; see <see cref="Start(string, Action{Channel})"/>.</summary>
    public void Start(string address, ParallelJob job) => Enqueue(address, job?.Body!, job, job?.Body!);

    /// <inheritdoc cref="Start(string, ParallelJob)"/>
    public void Start<T1>(string address, ParallelJob<T1> job, T1 arg1) =>
        Enqueue(address, job?.Body!, job, c => job!.Body(c, arg1), arg1);

    /// <inheritdoc cref="Start(string, ParallelJob)"/>
    public void Start<T1, T2>(string address, ParallelJob<T1, T2> job, T1 arg1, T2 arg2) =>
        Enqueue(address, job?.Body!, job, c => job!.Body(c, arg1, arg2), arg1, arg2);

    /// <inheritdoc cref="Start(string, ParallelJob)"/>
    public void Start<T1, T2, T3>(string address, ParallelJob<T1, T2, T3> job, T1 arg1, T2 arg2, T3 arg3) =>
        Enqueue(address, job?.Body!, job, c => job!.Body(c, arg1, arg2, arg3), arg1, arg2, arg3);

    /// <summary>
    /// pprocess's manage(address, callable): a function that starts <paramref name="callable"/> in a
    /// background process on each call. Each process needs an address of its own:
    /// <paramref name="address"/> is a composite format string that the call's arguments fill
    /// ("/tmp/me/row-{0}.sock").
    /// </summary>
    public Action Manage(string address, Action<Channel> callable) => () => Start(address, callable);

    /// <inheritdoc cref="Manage(string, Action{Channel})"/>
    public Action<T1> Manage<T1>(string address, Action<Channel, T1> callable) =>
        a1 => Start(Format(address, a1), callable, a1);

    /// <inheritdoc cref="Manage(string, Action{Channel})"/>
    public Action<T1, T2> Manage<T1, T2>(string address, Action<Channel, T1, T2> callable) =>
        (a1, a2) => Start(Format(address, a1, a2), callable, a1, a2);

    /// <inheritdoc cref="Manage(string, Action{Channel})"/>
    public Action<T1, T2, T3> Manage<T1, T2, T3>(string address, Action<Channel, T1, T2, T3> callable) =>
        (a1, a2, a3) => Start(Format(address, a1, a2, a3), callable, a1, a2, a3);

    /// <inheritdoc cref="Manage(string, Action{Channel})"/>
    public Action Manage(string address, ParallelJob job) => () => Start(address, job);

    /// <inheritdoc cref="Manage(string, Action{Channel})"/>
    public Action<T1> Manage<T1>(string address, ParallelJob<T1> job) => a1 => Start(Format(address, a1), job, a1);

    /// <inheritdoc cref="Manage(string, Action{Channel})"/>
    public Action<T1, T2> Manage<T1, T2>(string address, ParallelJob<T1, T2> job) =>
        (a1, a2) => Start(Format(address, a1, a2), job, a1, a2);

    /// <inheritdoc cref="Manage(string, Action{Channel})"/>
    public Action<T1, T2, T3> Manage<T1, T2, T3>(string address, ParallelJob<T1, T2, T3> job) =>
        (a1, a2, a3) => Start(Format(address, a1, a2, a3), job, a1, a2, a3);

    /// <summary>
    /// Connects to the background process at <paramref name="address"/> to collect its results.
    /// Raises <see cref="PersistentProcessException"/> if nothing runs there (no socket file),
    /// if the process crashed (a socket file nobody listens on), or if it belongs to another user.
    /// After <see cref="Disconnect"/>, or a connection that broke, it resumes after the results
    /// already received from that address: each result arrives exactly once.
    /// </summary>
    public void Connect(string address)
    {
        ThrowIfDisposed();
        var path = UnixSocketAddress.Validate(address);
        if (connections.ContainsKey(path))
        {
            throw new InvalidOperationException($"This exchange is already connected to '{path}'.");
        }
        var connection = PersistentConnection.Open(path, heldFrom.GetValueOrDefault(path), Serializer, options.ConfirmationTimeout, options.ConnectTimeout);
        connections[path] = connection;
        set.Add(connection.Channel, connection);
    }

    /// <summary>
    /// Closes the connection to <paramref name="address"/> without confirming: the background
    /// process keeps every result and waits for the next collector.
    /// </summary>
    public void Disconnect(string address)
    {
        var path = UnixSocketAddress.FullPath(address);
        if (connections.Remove(path, out var connection))
        {
            set.Remove(connection.Channel);
            heldFrom[path] = connection.Received;
            connection.Dispose();
        }
    }

    /// <summary>
    /// What <see cref="Store"/> waits on: the status channels of processes still computing (owner:
    /// the <see cref="BackgroundProcess"/>) and the connections to collect from (owner: the <see cref="PersistentConnection"/>).
    /// </summary>
    private readonly ChannelSet<object> set = new();
    private readonly List<ChannelSet<object>.Entry> ready = [];
    private readonly List<ChannelSet<object>.Entry> ended = [];

    /// <summary>
    /// One round: waits (up to <paramref name="timeout"/>; null: no limit) for results and for
    /// background processes that finish computing, calls <see cref="StoreData"/> for each result,
    /// confirms finished connections, and starts queued jobs while the exchange is not busy.
    /// Raises the first failure (a background process that died, a job's exception).
    /// </summary>
    public void Store(TimeSpan? timeout = null)
    {
        ThrowIfDisposed();
        queue.ThrowPendingFailure();
        if (set.Count > 0)
        {
            set.Wait(Deadline.After(timeout), ready, ended);
            foreach (var (channel, owner) in ready.Concat(ended))
            {
                if (owner is BackgroundProcess process)
                {
                    set.Remove(channel);
                    computing.Remove(process);
                    if (!process.ReadStatus())
                    {
                        queue.Fail(process.Died());
                    }
                }
                else
                {
                    Serve((PersistentConnection)owner);
                }
            }
        }
        StartWaiting();
        queue.ThrowPendingFailure();
    }

    /// <summary>Starts every queued job, waiting for earlier ones to finish computing as the limit requires.</summary>
    public void StartQueued()
    {
        queue.ThrowPendingFailure();
        while (queue.Waiting.Count > 0)
        {
            Store();
        }
    }

    /// <summary>
    /// Collects everything: starts the queued jobs, connects to every background process this
    /// exchange started, and runs <see cref="Store"/> until every connection has been confirmed.
    /// </summary>
    public void Finish()
    {
        queue.ThrowPendingFailure();
        while (true)
        {
            ConnectStarted();
            if (!Unfinished())
            {
                return;
            }
            Store();
        }
    }

    /// <summary>Receives and keeps one result from a background process's channel. Override it; the default throws.</summary>
    protected virtual void StoreData(Channel channel) =>
        throw new InvalidOperationException(
            $"{GetType().Name}.StoreData is not overridden: subclass PersistentExchange and override StoreData(Channel), or use PersistentQueue<T>.");

    /// <summary>Connects to the background processes started here that are not connected or collected yet.</summary>
    private protected void ConnectStarted()
    {
        foreach (var process in started)
        {
            if (!collected.Contains(process.Address) && !connections.ContainsKey(process.Address))
            {
                collected.Add(process.Address);
                Connect(process.Address);
            }
        }
    }

    private void Serve(PersistentConnection connection)
    {
        try
        {
            if (connection.Total < 0)
            {
                connection.ReadHeader();
            }
            else if (connection.Channel.Probe() == Transports.ProbeResult.EndOfStream)
            {
                // Bytes the confirmation protocol still owed never came.
                throw connection.Lost(null);
            }
            else
            {
                Exception? thrown = null;
                try
                {
                    StoreData(connection.Channel);
                }
                catch (RemoteException e)
                {
                    // A job's exception takes the place of a result.
                    queue.Fail(e);
                }
                catch (Exception e) when (e is not (ChannelProtocolException or ChannelSerializationException or IOException))
                {
                    // StoreData's own failure: raised to the caller once the result it consumed is counted.
                    thrown = e;
                }
                connection.CountReceived();
                if (thrown is not null)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(thrown);
                }
            }
        }
        catch (Exception e) when (e is PersistentProcessException or ChannelProtocolException or ChannelSerializationException or IOException)
        {
            queue.Fail(e is PersistentProcessException ? e : connection.Lost(e));
            heldFrom[connection.Address] = connection.Received;
            connections.Remove(connection.Address);
            set.Remove(connection.Channel);
            connection.Dispose();
            return;
        }
        if (connection.Confirmed)
        {
            set.Remove(connection.Channel);
            connections.Remove(connection.Address);
            heldFrom.Remove(connection.Address);
            collected.Add(connection.Address);
        }
    }

    private void Enqueue(string address, Delegate callable, IParallelJob? job, Action<Channel> body, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(callable, job is null ? nameof(callable) : nameof(job));
        Tasks.AsyncJobs.RefuseAsync(callable, "PersistentExchange.Start");
        ThrowIfDisposed();
        // Bad addresses are reported at once, not when a queued job comes to start.
        var path = UnixSocketAddress.Validate(address);
        var node = queue.Add(callable, job, body, args, path);
        if (!Busy())
        {
            queue.Waiting.Remove(node);
            Launch(node.Value);
        }
    }

    private void StartWaiting()
    {
        while (!Busy() && queue.Waiting.First is { } next)
        {
            queue.Waiting.RemoveFirst();
            try
            {
                Launch(next.Value);
            }
            catch (PersistentProcessException e)
            {
                queue.Fail(e);
            }
        }
    }

    private void Launch(PendingJob job)
    {
        job.Prepare();
        var process = BackgroundProcess.Start(job.Address!, job.Body, job.Name, options);
        started.Add(process);
        computing.Add(process);
        set.Add(process.StatusChannel, process);
    }

    private static string Format(string address, params object?[] args) =>
        string.Format(CultureInfo.InvariantCulture, address, args);

    /// <summary>
    /// Closes the connections (without confirming: their background processes keep their results)
    /// and the status channels, and drops queued jobs. Background processes are not stopped.
    /// </summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(queue.IsClosed, this);

    /// <summary>Releases the connections; override to release more.</summary>
    protected virtual void Dispose(bool disposing)
    {
        // Closing the queue drops the queued jobs; a second Dispose finds it closed.
        if (!disposing || !queue.Close())
        {
            return;
        }
        foreach (var connection in connections.Values)
        {
            connection.Dispose();
        }
        connections.Clear();
        foreach (var process in started)
        {
            process.Dispose();
        }
        set.Dispose();
    }
}
