using PProcess.Channels;
using PProcess.Exchanges;
using PProcess.Native;
using PProcess.Serialization;
using PProcess.Transports;

namespace PProcess;

/// <summary>
/// A set of channels to child processes, watched with poll: pprocess's Exchange. Start jobs
/// with <see cref="Start(Action{Channel})"/> or a <see cref="MakeParallel{T1, TResult}"/> job (queued while the exchange is busy), drive it with
/// <see cref="Store"/>, <see cref="Wait"/> or <see cref="Finish"/>, and receive results by
/// overriding <see cref="StoreData"/>. No more than <see cref="Limit"/> children are alive at
/// once. A child that fails (throws, dies of a signal, exits non-zero or without sending)
/// surfaces from <see cref="Store"/>, <see cref="Finish"/> or <see cref="Ready"/> as a
/// <see cref="ChildProcessException"/>; the other jobs go on and can be collected by calling
/// again. Not thread-safe: use an exchange from one thread.
/// </summary>
public partial class Exchange : IDisposable
{
    private readonly ChannelSet<Worker> set = new();
    private readonly List<ChannelSet<Worker>.Entry> ready = [];
    private readonly List<ChannelSet<Worker>.Entry> ended = [];
    private readonly JobQueue queue = new("An exchange's limit (children alive at once)");
    private readonly List<Channel> removed = [];
    private readonly ChannelOptions channelOptions;
    /// <summary>A reusable child quits after answering this many jobs (<see cref="ExchangeOptions.MaxJobsPerChild"/>).</summary>
    private readonly int? maxJobsPerChild;

    /// <summary>Creates an exchange.</summary>
    /// <param name="options">Its limit, modes, job timeout and channel settings; by default <see cref="ExchangeOptions"/>'s.</param>
    /// <param name="channels">Channels to watch from the start.</param>
    public Exchange(ExchangeOptions? options = null, IEnumerable<Channel>? channels = null)
    {
        options ??= new ExchangeOptions();
        if (options.Reuse && options.Continuous)
        {
            throw new ArgumentException(
                "An exchange cannot be both reuse and continuous: a reused child is handed its next job when it has sent " +
                "one result, and a continuous child sends any number of results.", nameof(options));
        }
        Limit = options.Limit ?? Cores.Usable;
        Reuse = options.Reuse;
        Continuous = options.Continuous;
        Autoclose = options.Autoclose;
        JobTimeout = options.JobTimeout;
        maxJobsPerChild = options.MaxJobsPerChild;
        channelOptions = options.ChannelSettings();
        foreach (var channel in channels ?? [])
        {
            Add(channel);
        }
    }

    /// <summary>Creates an exchange with at most <paramref name="limit"/> children alive at once and the other settings' defaults.</summary>
    public Exchange(int limit)
        : this(new ExchangeOptions { Limit = limit })
    {
    }

    /// <summary>The most children alive at once. At least 1.</summary>
    public int Limit
    {
        get => queue.Limit;
        set => queue.Limit = value;
    }

    /// <summary>Whether children are reused for queued jobs.</summary>
    public bool Reuse { get; }

    /// <summary>Whether children send many messages each.</summary>
    public bool Continuous { get; }

    /// <summary>Whether removed channels are closed and their children reaped.</summary>
    public bool Autoclose { get; }

    /// <summary>The serializer of the channels this exchange creates.</summary>
    public IChannelSerializer Serializer => channelOptions.Serializer;

    /// <summary>How the channels this exchange creates carry their bytes.</summary>
    public ChannelTransportKind Transport => channelOptions.Transport;

    /// <summary>How long one job may run before its child is killed, or null.</summary>
    public TimeSpan? JobTimeout { get; }

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
        Watch(new Worker(channel, -1, null));
    }

    private void Watch(Worker worker) => set.Add(worker.Channel, worker);

    /// <summary>What the exchange knows of each child it watches, in the order they were added.</summary>
    private IEnumerable<Worker> Workers => set.Entries.Select(e => e.Owner);

    /// <summary>How many watched children are in <paramref name="state"/>; a loop, not LINQ: it runs every round.</summary>
    private int CountIn(WorkerState state)
    {
        var entries = set.Entries;
        int count = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i].Owner.State == state)
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>
    /// Stops watching a channel. With <see cref="Autoclose"/>, the channel is closed and its child
    /// reaped (and killed, if it is still running).
    /// </summary>
    public void Remove(Channel channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        set.Remove(channel);
        if (Autoclose)
        {
            channel.Dispose();
        }
    }

    /// <summary>The channels being watched.</summary>
    public IReadOnlyList<Channel> Active() => set.Entries.Select(e => e.Channel).ToArray();

    /// <summary>True when as many children are alive as the limit allows.</summary>
    public bool Busy() => set.Count >= Limit;

    /// <summary>
    /// True while children are working, jobs are queued, or a child's failure has not been raised yet
    /// (several children can fail in one round; each is raised by its own call). A reusable child
    /// waiting for its next job does not count: it is told to quit when nothing is queued for it.
    /// </summary>
    public bool Unfinished() => queue.Waiting.Count > 0 || queue.HasFailures || CountIn(WorkerState.Idle) < set.Count;

    /// <summary>
    /// Waits until at least one channel has a message, or the timeout passes (null: no timeout),
    /// and returns the channels with messages. Channels whose children ended are removed and
    /// listed in <see cref="Removed"/>; a child that ended badly raises its error here once no
    /// channel is ready (otherwise at the next call), so no message is lost.
    /// <paramref name="cancellationToken"/> cancels the exchange: the wait wakes at once, every
    /// child is killed and reaped, queued jobs are dropped, and <see cref="OperationCanceledException"/> is raised.
    /// </summary>
    public IReadOnlyList<Channel> Ready(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ThrowIfCanceled(cancellationToken);
        queue.ThrowPendingFailure();
        var channels = ReadyCore(timeout, cancellationToken).ConvertAll(e => e.Channel);
        ExpireOverdue();
        if (channels.Count == 0)
        {
            queue.ThrowPendingFailure();
        }
        return channels;
    }

    /// <summary>
    /// One round: waits for ready channels (up to <paramref name="timeout"/>), calls
    /// <see cref="StoreData"/> for each, then starts queued jobs while the exchange is not busy.
    /// Raises the first failure of a child, if one ended badly; the rest of the round is done first.
    /// <paramref name="cancellationToken"/> cancels the exchange, as for <see cref="Ready"/>.
    /// </summary>
    public void Store(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ThrowIfCanceled(cancellationToken);
        queue.ThrowPendingFailure();
        var entries = ReadyCore(timeout, cancellationToken);
        bool outer = !serving;
        serving = true;
        try
        {
            for (int i = 0; i < entries.Count; i++)
            {
                Serve(entries[i].Channel, entries[i].Owner);
            }
        }
        finally
        {
            serving = !outer;
        }
        ExpireOverdue();
        StartWaiting();
        queue.ThrowPendingFailure();
    }

    /// <summary>
    /// True while <see cref="Store"/> serves ready channels: a wait then (from a subclass's
    /// StoreData) fills a list of its own, not the one being served.
    /// </summary>
    private bool serving;

    /// <summary>Receives what a ready channel carries; a failure is kept for the end of the round.</summary>
    private void Serve(Channel channel, Worker worker)
    {
        long ticket = CurrentTicket(worker);
        // A message after the one that made the channel ready (StoreData may receive several) is
        // waited for until the job's deadline, not for ever.
        channel.ReadDeadline = JobDeadline(worker);
        channel.ReadTimeout = JobTimeout;
        try
        {
            StoreData(channel);
        }
        catch (Exception failure) when (failure is ChildProcessException or ChannelProtocolException or ChannelSerializationException)
        {
            // Kept for after the round, so that the other ready channels are still served.
            Fail(channel, ticket, failure);
            if (channel.IsFaulted)
            {
                // Its stream is out of step: nothing more can be read from it.
                Discard(channel);
                return;
            }
        }
        finally
        {
            channel.ReadDeadline = Deadline.Never;
        }
        Answered(worker);
    }

    /// <summary>Runs <see cref="Store"/> until the exchange is not busy.</summary>
    public void Wait(CancellationToken cancellationToken = default)
    {
        while (Busy())
        {
            if (CountIn(WorkerState.Quitting) == 0 && FindIdle(null) is { } idle)
            {
                // A reusable child waiting for a job holds a slot: free it.
                Quit(idle);
            }
            Store(null, cancellationToken);
        }
    }

    /// <summary>
    /// Runs <see cref="Store"/> until every child has ended and no job is queued. Reusable
    /// children are told to quit and reaped too.
    /// </summary>
    public void Finish(CancellationToken cancellationToken = default)
    {
        ThrowIfCanceled(cancellationToken);
        queue.ThrowPendingFailure();
        while (Unfinished() || set.Count > 0)
        {
            Store(null, cancellationToken);
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
    /// Waits until the exchange is not busy, then forks. In the child, returns the channel to the
    /// parent: do the work, send the result and end with <see cref="Fork.Exit"/>. In the parent,
    /// returns null; the exchange watches the new child's channel.
    /// </summary>
    public Channel? Create(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ThrowIfCanceled(cancellationToken);
        Wait(cancellationToken);
        long ticket = queue.Tickets;
        var channel = Fork.Spawn(null, $"#{ticket} Exchange.Create()", channelOptions);
        if (channel.IsChild)
        {
            return channel;
        }
        queue.TakeTicket();
        Watch(new Worker(channel, ticket, null) { Deadline = NewDeadline() });
        return null;
    }

    /// <summary>Kills and reaps every child still alive and drops queued jobs. Safe to call in a child.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the children and channels; override to release more.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing || !queue.Close())
        {
            return;
        }
        var entries = set.Entries.ToArray();
        foreach (var entry in entries)
        {
            if (entry.Owner.State == WorkerState.Idle)
            {
                Quit(entry.Owner);
            }
        }
        foreach (var entry in entries)
        {
            set.Remove(entry.Channel);
            entry.Channel.Dispose();
        }
        set.Dispose();
    }

    /// <summary>The number of jobs started or queued so far; the next job's sequence number.</summary>
    private protected long JobsStarted => queue.Tickets;

    /// <summary>
    /// Lets a subclass keep a child's failure with its job (a Map at that job's index, a queue in
    /// arrival order) instead of raising it from the next call. <paramref name="ticket"/> is the
    /// job's sequence number, or -1 when the failure belongs to no job still owed.
    /// </summary>
    private protected virtual bool TakeFailure(Channel channel, long ticket, Exception failure) => false;

    /// <summary>The sequence number of the job whose result <paramref name="channel"/> carries next, or -1.</summary>
    private protected long TicketOf(Channel channel) => set.OwnerOf(channel) is { } worker ? CurrentTicket(worker) : -1;

    private long CurrentTicket(Worker worker) => Continuous || worker.AwaitingResult ? worker.Ticket : -1;

    private void Fail(Channel channel, long ticket, Exception failure)
    {
        if (!TakeFailure(channel, ticket, failure))
        {
            queue.Fail(failure);
        }
    }

    /// <summary>Waits for the channels, then returns the ready ones (a list reused by the next wait, unless that wait happens while they are served).</summary>
    private List<ChannelSet<Worker>.Entry> ReadyCore(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        removed.Clear();
        if (set.Count == 0)
        {
            // Nothing to wait for.
            ThrowIfCanceled(cancellationToken);
            return [];
        }
        // The caller's timeout, shortened to the nearest job deadline.
        var deadline = Deadline.After(timeout);
        if (JobTimeout is not null)
        {
            var entries = set.Entries;
            for (int i = 0; i < entries.Count; i++)
            {
                deadline = Deadline.Earlier(deadline, JobDeadline(entries[i].Owner));
            }
        }
        // The set's lists are reused from round to round; a wait inside a round gets its own.
        var readyNow = serving ? [] : ready;
        using (set.WakeOn(cancellationToken))
        {
            set.Wait(deadline, readyNow, ended);
        }
        foreach (var entry in ended)
        {
            Ended(entry.Channel, entry.Owner);
        }
        ThrowIfCanceled(cancellationToken);
        return readyNow;
    }

    private Deadline NewDeadline() => Deadline.After(JobTimeout);

    /// <summary>
    /// When a worker's job runs out of time: its deadline, or, while bytes of a message keep arriving
    /// from it, the job timeout after the last of them. The timeout covers the sending of a result
    /// (a child that stops in the middle of a message is timed out), but a large result that the
    /// exchange was not driven to read in time is not cut off while it streams.
    /// </summary>
    private Deadline JobDeadline(Worker worker)
    {
        if (JobTimeout is not { } allowed || worker.Channel.PartialFrameSince is not (> 0 and var since))
        {
            return worker.Deadline;
        }
        return Deadline.Later(worker.Deadline, Deadline.At(since + (long)(allowed.TotalSeconds * System.Diagnostics.Stopwatch.Frequency)));
    }

    /// <summary>Kills and reaps the children whose job outlived the job timeout; their jobs fail.</summary>
    private void ExpireOverdue()
    {
        if (JobTimeout is not { } allowed || set.Count == 0)
        {
            return;
        }
        // From the end, by index: a round allocates nothing, and Discard removes the entry it is given.
        for (int i = set.Entries.Count - 1; i >= 0; i--)
        {
            if (i >= set.Entries.Count || set.Entries[i].Owner is not { } worker || !JobDeadline(worker).HasPassed || worker.State == WorkerState.Idle)
            {
                continue;
            }
            var channel = worker.Channel;
            bool owed = Continuous || worker.AwaitingResult;
            long ticket = CurrentTicket(worker);
            Discard(channel);
            if (owed)
            {
                Fail(channel, ticket, new ChildTimeoutException(
                    $"{channel.Describe()} ran longer than the job timeout of {allowed.TotalSeconds:0.###} s, so it was killed " +
                    $"({channel.Status?.ToString() ?? "reaped"}).", channel.Pid, channel.Job, allowed));
            }
        }
    }

    /// <summary>After the token was cancelled: every child is killed and reaped, queued jobs are dropped.</summary>
    private void ThrowIfCanceled(CancellationToken cancellationToken)
    {
        if (!cancellationToken.IsCancellationRequested)
        {
            return;
        }
        queue.Waiting.Clear();
        foreach (var channel in Active())
        {
            Discard(channel);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>A child closed its end and everything it sent has been read: reap it and judge how it ended.</summary>
    private void Ended(Channel channel, Worker worker)
    {
        removed.Add(channel);
        bool owed = !Continuous && worker.AwaitingResult;
        long ticket = CurrentTicket(worker);
        var failure = channel.Conclude(expectMessage: owed);
        if (Autoclose)
        {
            channel.Close();
        }
        if (failure is not null)
        {
            Fail(channel, ticket, failure);
        }
    }

    private void Discard(Channel channel)
    {
        set.Remove(channel);
        removed.Add(channel);
        channel.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(queue.IsClosed, this);
}
