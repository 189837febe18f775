using PProcess.Exchanges;
using PProcess.Serialization;
using PProcess.Transports;

namespace PProcess;

/// <summary>
/// A set of channels to child processes, watched with poll: pprocess's Exchange. Start jobs
/// with <see cref="Start(Action{Channel})"/> (queued while the exchange is busy), drive it with
/// <see cref="Store"/>, <see cref="Wait"/> or <see cref="Finish"/>, and receive results by
/// overriding <see cref="StoreData"/>. No more than <see cref="Limit"/> children are alive at
/// once. A child that fails (throws, dies of a signal, exits non-zero or without sending)
/// surfaces from <see cref="Store"/>, <see cref="Finish"/> or <see cref="Ready"/> as a
/// <see cref="ChildProcessException"/>; the other jobs go on and can be collected by calling
/// again. Not thread-safe: use an exchange from one thread.
/// </summary>
public class Exchange : IDisposable
{
    private readonly List<Channel> active = [];
    private readonly LinkedList<PendingJob> waiting = new();
    private readonly Queue<Exception> failures = new();
    private readonly List<Channel> removed = [];
    private readonly Poller poller = new();
    private int limit;
    private int jobs;
    private bool disposed;

    /// <summary>Creates an exchange.</summary>
    /// <param name="limit">The most children alive at once; by default <see cref="Cores.Usable"/>.</param>
    /// <param name="reuse">Reusable children (MakeReusable): not implemented yet; true throws <see cref="NotSupportedException"/>.</param>
    /// <param name="continuous">Children send many messages: a child that ends after any number of them is not an error.</param>
    /// <param name="autoclose">Close a channel and reap its child when it is removed.</param>
    /// <param name="channels">Channels to watch from the start.</param>
    /// <param name="serializer">The serializer for the channels this exchange creates.</param>
    public Exchange(int? limit = null, bool reuse = false, bool continuous = false, bool autoclose = true,
        IEnumerable<Channel>? channels = null, IChannelSerializer? serializer = null)
    {
        if (reuse)
        {
            throw new NotSupportedException("Reuse mode (reusable children, MakeReusable) is not implemented yet; create the exchange without reuse.");
        }
        Limit = limit ?? Cores.Usable;
        Reuse = reuse;
        Continuous = continuous;
        Autoclose = autoclose;
        Serializer = serializer ?? DefaultChannelSerializer.Instance;
        foreach (var channel in channels ?? [])
        {
            Add(channel);
        }
    }

    /// <summary>The most children alive at once. At least 1.</summary>
    public int Limit
    {
        get => limit;
        set
        {
            if (value < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "An exchange's limit is the number of children alive at once and must be at least 1.");
            }
            limit = value;
        }
    }

    /// <summary>Whether children are reused for queued jobs.</summary>
    public bool Reuse { get; }

    /// <summary>Whether children send many messages each.</summary>
    public bool Continuous { get; }

    /// <summary>Whether removed channels are closed and their children reaped.</summary>
    public bool Autoclose { get; }

    /// <summary>The serializer of the channels this exchange creates.</summary>
    public IChannelSerializer Serializer { get; }

    /// <summary>The channels whose children ended during the last <see cref="Ready"/> or <see cref="Store"/>.</summary>
    public IReadOnlyList<Channel> Removed => removed;

    /// <summary>Adds a channel to watch.</summary>
    public void Add(Channel channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        ThrowIfDisposed();
        if (channel.IsChild)
        {
            throw new ArgumentException("An exchange watches channels to children; this is a child's channel to its parent.", nameof(channel));
        }
        active.Add(channel);
        poller.Invalidate();
    }

    /// <summary>
    /// Stops watching a channel. With <see cref="Autoclose"/>, the channel is closed and its child
    /// reaped (and killed, if it is still running).
    /// </summary>
    public void Remove(Channel channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (active.Remove(channel))
        {
            poller.Invalidate();
        }
        if (Autoclose)
        {
            channel.Dispose();
        }
    }

    /// <summary>The channels being watched.</summary>
    public IReadOnlyList<Channel> Active() => active.ToArray();

    /// <summary>True when as many children are alive as the limit allows.</summary>
    public bool Busy() => active.Count >= Limit;

    /// <summary>
    /// True while children are alive, jobs are queued, or a child's failure has not been raised yet
    /// (several children can fail in one round; each is raised by its own call).
    /// </summary>
    public bool Unfinished() => active.Count > 0 || waiting.Count > 0 || failures.Count > 0;

    /// <summary>
    /// Waits until at least one channel has a message, or the timeout passes (null: no timeout),
    /// and returns the channels with messages. Channels whose children ended are removed and
    /// listed in <see cref="Removed"/>; a child that ended badly raises its error here once no
    /// channel is ready (otherwise at the next call), so no message is lost.
    /// </summary>
    public IReadOnlyList<Channel> Ready(TimeSpan? timeout = null)
    {
        ThrowIfDisposed();
        ThrowPendingFailure();
        var ready = ReadyCore(timeout);
        if (ready.Count == 0)
        {
            ThrowPendingFailure();
        }
        return ready;
    }

    /// <summary>
    /// One round: waits for ready channels (up to <paramref name="timeout"/>), calls
    /// <see cref="StoreData"/> for each, then starts queued jobs while the exchange is not busy.
    /// Raises the first failure of a child, if one ended badly; the rest of the round is done first.
    /// </summary>
    public void Store(TimeSpan? timeout = null)
    {
        ThrowIfDisposed();
        ThrowPendingFailure();
        foreach (var channel in ReadyCore(timeout))
        {
            try
            {
                StoreData(channel);
            }
            catch (Exception failure) when (failure is ChildProcessException or ChannelProtocolException or ChannelSerializationException)
            {
                // Kept for after the round, so that the other ready channels are still served.
                failures.Enqueue(failure);
                if (channel.IsFaulted)
                {
                    // Its stream is out of step: nothing more can be read from it.
                    Discard(channel);
                }
            }
        }
        StartWaiting();
        ThrowPendingFailure();
    }

    /// <summary>Runs <see cref="Store"/> until the exchange is not busy.</summary>
    public void Wait()
    {
        while (Busy())
        {
            Store();
        }
    }

    /// <summary>Runs <see cref="Store"/> until every child has ended and no job is queued.</summary>
    public void Finish()
    {
        ThrowPendingFailure();
        while (Unfinished())
        {
            Store();
        }
    }

    /// <summary>
    /// Receives and keeps the data a ready channel carries. Override it; the default throws.
    /// Map-like subclasses store results by job, Queue-like ones in arrival order.
    /// </summary>
    protected virtual void StoreData(Channel channel) =>
        throw new InvalidOperationException(
            $"{GetType().Name}.StoreData is not overridden: subclass Exchange and override StoreData(Channel) to receive " +
            "the results of its children, or read them yourself from the channels that Ready() returns.");

    /// <summary>
    /// Starts a child running <paramref name="callable"/> with its channel; if the exchange is busy,
    /// queues the job and returns at once. The child sends its results on the channel.
    /// </summary>
    public void Start(Action<Channel> callable)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Enqueue(callable, JobNames.Describe(callable));
    }

    /// <summary>Like <see cref="Start(Action{Channel})"/>, passing one argument.</summary>
    public void Start<T1>(Action<Channel, T1> callable, T1 arg1)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Enqueue(c => callable(c, arg1), JobNames.Describe(callable, arg1));
    }

    /// <summary>Like <see cref="Start(Action{Channel})"/>, passing two arguments.</summary>
    public void Start<T1, T2>(Action<Channel, T1, T2> callable, T1 arg1, T2 arg2)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Enqueue(c => callable(c, arg1, arg2), JobNames.Describe(callable, arg1, arg2));
    }

    /// <summary>Like <see cref="Start(Action{Channel})"/>, passing three arguments.</summary>
    public void Start<T1, T2, T3>(Action<Channel, T1, T2, T3> callable, T1 arg1, T2 arg2, T3 arg3)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Enqueue(c => callable(c, arg1, arg2, arg3), JobNames.Describe(callable, arg1, arg2, arg3));
    }

    /// <summary>
    /// Waits until the exchange is not busy, then forks. In the child, returns the channel to the
    /// parent: do the work, send the result and end with <see cref="Fork.Exit"/>. In the parent,
    /// returns null; the exchange watches the new child's channel.
    /// </summary>
    public Channel? Create()
    {
        ThrowIfDisposed();
        Wait();
        var channel = Fork.Spawn(null, $"#{++jobs} Exchange.Create()", Serializer);
        if (channel.IsChild)
        {
            return channel;
        }
        Add(channel);
        return null;
    }

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action Manage(Action<Channel> callable) => () => Start(callable);

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action<T1> Manage<T1>(Action<Channel, T1> callable) => a1 => Start(callable, a1);

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action<T1, T2> Manage<T1, T2>(Action<Channel, T1, T2> callable) => (a1, a2) => Start(callable, a1, a2);

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action<T1, T2, T3> Manage<T1, T2, T3>(Action<Channel, T1, T2, T3> callable) =>
        (a1, a2, a3) => Start(callable, a1, a2, a3);

    /// <summary>Kills and reaps every child still alive and drops queued jobs. Safe to call in a child.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the children and channels; override to release more.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposed || !disposing)
        {
            return;
        }
        disposed = true;
        waiting.Clear();
        foreach (var channel in active)
        {
            channel.Dispose();
        }
        active.Clear();
    }

    private void Enqueue(Action<Channel> body, string name)
    {
        ThrowIfDisposed();
        var job = new PendingJob(body, $"#{++jobs} {name}");
        if (Busy() || waiting.Count > 0)
        {
            waiting.AddLast(job);
        }
        else
        {
            Launch(job);
        }
    }

    private void Launch(PendingJob job) => Add(Fork.Spawn(job.Body, job.Name, Serializer));

    private void StartWaiting()
    {
        while (waiting.First is { } next && !Busy())
        {
            // Dequeue only once the fork succeeded: a failed fork leaves the job queued.
            Launch(next.Value);
            waiting.RemoveFirst();
        }
    }

    private List<Channel> ReadyCore(TimeSpan? timeout)
    {
        removed.Clear();
        var ready = new List<Channel>();
        foreach (var channel in poller.Poll(active, timeout))
        {
            switch (channel.Probe())
            {
                case ProbeResult.Data:
                    ready.Add(channel);
                    break;
                case ProbeResult.EndOfStream:
                    Ended(channel);
                    break;
            }
        }
        return ready;
    }

    /// <summary>A child closed its end and everything it sent has been read: reap it and judge how it ended.</summary>
    private void Ended(Channel channel)
    {
        active.Remove(channel);
        poller.Invalidate();
        removed.Add(channel);
        var failure = channel.Conclude(expectMessage: !Continuous);
        if (Autoclose)
        {
            channel.Close();
        }
        if (failure is not null)
        {
            failures.Enqueue(failure);
        }
    }

    private void Discard(Channel channel)
    {
        active.Remove(channel);
        poller.Invalidate();
        removed.Add(channel);
        channel.Dispose();
    }

    private void ThrowPendingFailure()
    {
        if (failures.TryDequeue(out var failure))
        {
            throw failure;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
