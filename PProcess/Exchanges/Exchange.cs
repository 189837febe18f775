using PProcess.Channels;
using PProcess.Exchanges;
using PProcess.Native;
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
public partial class Exchange : IDisposable
{
    private readonly ChannelSet<Worker> set = new();
    private readonly List<ChannelSet<Worker>.Entry> ready = [];
    private readonly List<ChannelSet<Worker>.Entry> ended = [];
    private readonly LinkedList<PendingJob> waiting = new();
    private readonly Queue<Exception> failures = new();
    private readonly List<Channel> removed = [];
    private int limit;
    private long jobs;
    private bool disposed;

    /// <summary>Creates an exchange.</summary>
    /// <param name="limit">The most children alive at once; by default <see cref="Cores.Usable"/>.</param>
    /// <param name="reuse">
    /// Reuse children: a child running a job made by <see cref="MakeReusable{T1, TResult}"/> that has sent its
    /// result receives the next queued job of the same function over its channel instead of a new fork,
    /// and is told to quit when no such job is queued.
    /// </param>
    /// <param name="continuous">Children send many messages: a child that ends after any number of them is not an error.</param>
    /// <param name="autoclose">Close a channel and reap its child when it is removed.</param>
    /// <param name="channels">Channels to watch from the start.</param>
    /// <param name="serializer">The serializer for the channels this exchange creates, and for the arguments handed to reused children.</param>
    /// <param name="jobTimeout">
    /// How long one job may run (from its fork or hand-over to its result; in continuous mode, the
    /// child's whole life). A child still working after that is killed and reaped, and its job fails
    /// with <see cref="ChildTimeoutException"/>. Null: no limit.
    /// </param>
    /// <param name="cancellationToken">
    /// Cancels the exchange: a blocked wait wakes at once, every child is killed and reaped, queued
    /// jobs are dropped, and the call raises <see cref="OperationCanceledException"/>.
    /// </param>
    /// <param name="transport">
    /// How the channels this exchange creates carry their bytes: a socketpair (null, the default) or shared
    /// memory, whose round trip is shorter (docs/performance.md). Results, errors and crash reports are the same.
    /// </param>
    public Exchange(int? limit = null, bool reuse = false, bool continuous = false, bool autoclose = true,
        IEnumerable<Channel>? channels = null, IChannelSerializer? serializer = null, TimeSpan? jobTimeout = null,
        CancellationToken cancellationToken = default, ChannelTransportKind? transport = null)
    {
        if (transport is { } kind && !Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(transport), transport, "Unknown channel transport kind.");
        }
        Transport = transport ?? Fork.DefaultTransport;
        if (jobTimeout is { } t && (t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan))
        {
            throw new ArgumentOutOfRangeException(nameof(jobTimeout), t, "A job timeout must be positive (or null for none).");
        }
        JobTimeout = jobTimeout == Timeout.InfiniteTimeSpan ? null : jobTimeout;
        CancellationToken = cancellationToken;
        if (reuse && continuous)
        {
            throw new ArgumentException(
                "An exchange cannot be both reuse and continuous: a reused child is handed its next job when it has sent " +
                "one result, and a continuous child sends any number of results.", nameof(continuous));
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

    /// <summary>How the channels this exchange creates carry their bytes.</summary>
    public ChannelTransportKind Transport { get; }

    /// <summary>How long one job may run before its child is killed, or null.</summary>
    public TimeSpan? JobTimeout { get; }

    /// <summary>The token that cancels this exchange.</summary>
    public CancellationToken CancellationToken { get; }

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
    public bool Unfinished() => waiting.Count > 0 || failures.Count > 0 || Workers.Any(w => w.State != WorkerState.Idle);

    /// <summary>
    /// Waits until at least one channel has a message, or the timeout passes (null: no timeout),
    /// and returns the channels with messages. Channels whose children ended are removed and
    /// listed in <see cref="Removed"/>; a child that ended badly raises its error here once no
    /// channel is ready (otherwise at the next call), so no message is lost.
    /// </summary>
    public IReadOnlyList<Channel> Ready(TimeSpan? timeout = null)
    {
        ThrowIfDisposed();
        ThrowIfCanceled();
        ThrowPendingFailure();
        var ready = ReadyCore(timeout);
        ExpireOverdue();
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
        ThrowIfCanceled();
        ThrowPendingFailure();
        foreach (var channel in ReadyCore(timeout))
        {
            var worker = set.OwnerOf(channel)!;
            long ticket = CurrentTicket(worker);
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
                    continue;
                }
            }
            Answered(worker);
        }
        ExpireOverdue();
        StartWaiting();
        ThrowPendingFailure();
    }

    /// <summary>Runs <see cref="Store"/> until the exchange is not busy.</summary>
    public void Wait()
    {
        while (Busy())
        {
            if (!Workers.Any(w => w.State == WorkerState.Quitting) && FindIdle(null) is { } idle)
            {
                // A reusable child waiting for a job holds a slot: free it.
                Quit(idle);
            }
            Store();
        }
    }

    /// <summary>
    /// Runs <see cref="Store"/> until every child has ended and no job is queued. Reusable
    /// children are told to quit and reaped too.
    /// </summary>
    public void Finish()
    {
        ThrowIfCanceled();
        ThrowPendingFailure();
        while (Unfinished() || set.Count > 0)
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
    /// Waits until the exchange is not busy, then forks. In the child, returns the channel to the
    /// parent: do the work, send the result and end with <see cref="Fork.Exit"/>. In the parent,
    /// returns null; the exchange watches the new child's channel.
    /// </summary>
    public Channel? Create()
    {
        ThrowIfDisposed();
        ThrowIfCanceled();
        Wait();
        long ticket = jobs;
        var channel = Fork.Spawn(null, $"#{ticket} Exchange.Create()", Serializer, transport: Transport);
        if (channel.IsChild)
        {
            return channel;
        }
        jobs++;
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
        if (disposed || !disposing)
        {
            return;
        }
        disposed = true;
        waiting.Clear();
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
    private protected long JobsStarted => jobs;

    /// <summary>
    /// Lets a subclass keep a child's failure with its job (a Map at that job's index, a queue in
    /// arrival order) instead of raising it from the next call. <paramref name="ticket"/> is the
    /// job's sequence number, or -1 when the failure belongs to no job still owed.
    /// </summary>
    private protected virtual bool TakeFailure(Channel channel, long ticket, Exception failure) => false;

    /// <summary>The sequence number of the job whose result <paramref name="channel"/> carries next, or -1.</summary>
    private protected long TicketOf(Channel channel) => set.OwnerOf(channel) is { } worker ? CurrentTicket(worker) : -1;

    private long CurrentTicket(Worker worker) => Continuous || worker.AwaitingResult ? worker.Ticket : -1;

    private void Enqueue(Delegate callable, Action<Channel> body, Action<Channel>? handOver, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(callable);
        ThrowIfDisposed();
        ThrowIfCanceled();
        long ticket = jobs++;
        var wrapped = WrappedJob.Of(callable);
        var name = $"#{ticket} {JobNames.Describe(wrapped?.Function ?? callable, args)}";
        // Children of a reusable job serve further jobs of that same delegate (same function, same job).
        object? reuseKey = wrapped is { Reusable: true } ? callable : null;
        var node = waiting.AddLast(new PendingJob(body, name, ticket, callable, reuseKey, handOver));
        try
        {
            StartWaiting();
        }
        catch (ForkException) when (node.List is not null)
        {
            // Not accepted: the caller sees the error, and the job does not run later behind its back.
            waiting.Remove(node);
            jobs--;
            throw;
        }
    }

    private void Launch(PendingJob job) =>
        Watch(new Worker(Fork.Spawn(job.Body, job.Name, Serializer, job.Callable, transport: Transport), job.Ticket, job.ReuseKey) { Deadline = NewDeadline() });

    /// <summary>
    /// Gives queued jobs to idle reusable children of the same function, or to new children while
    /// the limit allows; an idle child that no queued job can use is told to quit, to free its slot.
    /// When nothing is queued or running, idle children are told to quit.
    /// </summary>
    private void StartWaiting()
    {
        int coming = Workers.Count(w => w.State == WorkerState.Quitting);
        for (var node = waiting.First; node is not null;)
        {
            var next = node.Next;
            var job = node.Value;
            if (Reuse && job.ReuseKey is not null && FindIdle(job.ReuseKey) is { } idle)
            {
                if (HandOver(idle, job))
                {
                    waiting.Remove(node);
                }
                else
                {
                    // That child is gone; look at this job again.
                    next = node;
                }
            }
            else if (set.Count < Limit)
            {
                try
                {
                    Launch(job);
                }
                catch (ForkException shortage) when (shortage.IsResourceShortage && set.Count > 0)
                {
                    // Out of processes or descriptors: the job stays queued, and is tried again
                    // when a running child ends and gives its resources back.
                    break;
                }
                waiting.Remove(node);
            }
            else if (coming > 0)
            {
                coming--;
            }
            else if (FindIdle(null) is { } unused)
            {
                Quit(unused);
            }
            else
            {
                break;
            }
            node = next;
        }
        if (waiting.Count == 0 && !Workers.Any(w => w.State == WorkerState.Working))
        {
            foreach (var worker in Workers.Where(w => w.State == WorkerState.Idle).ToList())
            {
                Quit(worker);
            }
        }
    }

    private Worker? FindIdle(object? reuseKey)
    {
        foreach (var worker in Workers)
        {
            if (worker.State == WorkerState.Idle && (reuseKey is null || ReferenceEquals(worker.ReuseKey, reuseKey)))
            {
                return worker;
            }
        }
        return null;
    }

    /// <summary>
    /// Sends a queued job's arguments to an idle child. False if the child is gone. Arguments that
    /// cannot be serialised fail that job (true: it is dealt with) and leave the child idle.
    /// </summary>
    private bool HandOver(Worker worker, PendingJob job)
    {
        try
        {
            job.HandOver!(worker.Channel);
        }
        catch (ChannelSerializationException refused) when (!worker.Channel.IsFaulted)
        {
            Fail(worker.Channel, job.Ticket, new ChannelSerializationException(
                $"The arguments of job {job.Name} could not be sent to reused child {worker.Channel.Pid}: {refused.Message}",
                refused.ValueType, refused));
            return true;
        }
        catch (Exception e) when (e is IOException or ChannelSerializationException)
        {
            // The child is gone, or its stream broke: its end is seen and judged by a later round.
            worker.State = WorkerState.Quitting;
            return false;
        }
        worker.Assign(job.Ticket, job.Name, NewDeadline());
        return true;
    }

    /// <summary>After a ready channel was served: a reusable child that has answered waits for another job, or quits.</summary>
    private void Answered(Worker worker)
    {
        if (Continuous || worker.ReuseKey is null || worker.State != WorkerState.Working || worker.AwaitingResult)
        {
            return;
        }
        if (Reuse)
        {
            worker.State = WorkerState.Idle;
            worker.Deadline = Deadline.Never;
        }
        else
        {
            // A MakeReusable job in an exchange without reuse: one job per child, as with MakeParallel.
            Quit(worker);
        }
    }

    private static void Quit(Worker worker)
    {
        worker.State = WorkerState.Quitting;
        try
        {
            worker.Channel.SendQuit();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or ChannelProtocolException)
        {
            // Already gone: its end of stream is judged as usual.
        }
    }

    private void Fail(Channel channel, long ticket, Exception failure)
    {
        if (!TakeFailure(channel, ticket, failure))
        {
            failures.Enqueue(failure);
        }
    }

    private List<Channel> ReadyCore(TimeSpan? timeout)
    {
        removed.Clear();
        if (set.Count == 0)
        {
            // Nothing to wait for.
            ThrowIfCanceled();
            return [];
        }
        // The caller's timeout, shortened to the nearest job deadline.
        var deadline = Deadline.After(timeout);
        foreach (var worker in Workers)
        {
            deadline = Deadline.Earlier(deadline, worker.Deadline);
        }
        using (set.WakeOn(CancellationToken))
        {
            set.Wait(deadline, ready, ended);
        }
        foreach (var entry in ended)
        {
            Ended(entry.Channel, entry.Owner);
        }
        ThrowIfCanceled();
        return ready.ConvertAll(e => e.Channel);
    }

    private Deadline NewDeadline() => Deadline.After(JobTimeout);

    /// <summary>Kills and reaps the children whose job outlived the job timeout; their jobs fail.</summary>
    private void ExpireOverdue()
    {
        if (JobTimeout is not { } allowed)
        {
            return;
        }
        foreach (var worker in Workers.Where(w => w.Deadline.HasPassed && w.State != WorkerState.Idle).ToList())
        {
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
    private void ThrowIfCanceled()
    {
        if (!CancellationToken.IsCancellationRequested)
        {
            return;
        }
        waiting.Clear();
        foreach (var channel in Active())
        {
            Discard(channel);
        }
        CancellationToken.ThrowIfCancellationRequested();
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

    private void ThrowPendingFailure()
    {
        if (failures.TryDequeue(out var failure))
        {
            throw failure;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
