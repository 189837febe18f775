using System.Collections.ObjectModel;
using System.Diagnostics;
using PProcess.Channels;
using PProcess.Native;
using PProcess.Processes;
using PProcess.Runtime;

namespace PProcess.Mapping;

/// <summary>
/// PMap's default engine (<see cref="PMapMode.Adaptive"/>): at most a limit of children, forked
/// through the one fork path when the enumeration starts, each serving chunks of elements until
/// the source is exhausted, watched through the one readiness loop (<see cref="ChannelSet{TOwner}"/>).
/// Chunks are cut in source order as children become free, sized by <see cref="ChunkSizer"/>, and
/// no further ahead of the consumer than a window of two chunks per child. An array or list goes
/// out as index ranges (<see cref="MapChild{T, TResult}.ServeRanges(Channel, T[])"/>); other sources
/// as arrays of elements when <see cref="ElementCarriage"/> allows, and otherwise in a child forked
/// per chunk. Results are yielded in source order; a chunk's failure is raised at its element after
/// the results before it. A child that dies or is timed out is blamed for the element its
/// <see cref="ProgressSlot"/> says it was computing; the elements of that chunk before it are run
/// again elsewhere (their results died with the child). A child that dies outside the selector
/// (reading a chunk or sending its results) has its chunk run again in halves until a single
/// element is left to blame. Used from one thread at a time, like every exchange.
/// </summary>
internal sealed class ChunkedMap<T, TResult> : IDisposable
{
    private readonly Func<T, TResult> selector;
    private readonly int limit;
    private readonly TimeSpan? timeout;
    /// <summary>The timeout in <see cref="Stopwatch"/> ticks, the clock of the progress slots.</summary>
    private readonly long timeoutTicks;
    private readonly ChannelOptions channelOptions;
    private readonly IProgress<MapProgress>? progress;
    private readonly Func<TimeSpan>? whileWaiting;
    private readonly string selectorName;
    /// <summary>Failed elements go on as outcomes (<see cref="PMapExtensions.PMapOutcomes{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>) instead of ending the map.</summary>
    private readonly bool goOn;
    private readonly int retries;
    private readonly Func<Exception, bool>? retryWhen;
    private readonly int? maxPerChild;
    /// <summary>The earlier failures of each element being retried, by position.</summary>
    private readonly Dictionary<long, List<Exception>> attempts = [];

    /// <summary>The list the children read from (an array's too), or null for a stream.</summary>
    private readonly IReadOnlyList<T>? list;
    private readonly T[]? array;
    private readonly IEnumerator<T>? stream;
    private readonly long? total;
    /// <summary>A stream's elements can go to kept children through the serializer.</summary>
    private readonly bool carries;

    private readonly ChunkSizer sizer;
    private readonly ProgressBoard board;
    /// <summary>What each kept child's heap holds, and whether it asks to be replaced (<see cref="HeapSharing"/>).</summary>
    private readonly ChildMemoryBoard memoryBoard;
    private readonly long? memoryBudget;
    private readonly SharingInsights? sharing;
    /// <summary>Children told to quit (retired), not reaped yet; they owe nothing.</summary>
    private readonly List<ChildProcess> leaving = [];
    private readonly Stack<int> freeSlots = new();
    private readonly ChannelSet<MapWorker<T, TResult>> set = new();
    private readonly List<ChannelSet<MapWorker<T, TResult>>.Entry> ready = [];
    private readonly List<ChannelSet<MapWorker<T, TResult>>.Entry> ended = [];
    /// <summary>The chunks cut and not yet yielded, by start: together they cover the elements from <see cref="next"/> on.</summary>
    private readonly SortedList<long, Chunk<T, TResult>> chunks = [];
    /// <summary>The chunks no child has, earliest first.</summary>
    private readonly PriorityQueue<Chunk<T, TResult>, long> waiting = new();

    private long next;
    private long cut;
    private bool exhausted;
    /// <summary>The position of a failure already known: nothing after it is needed.</summary>
    private long stopAt = long.MaxValue;
    private long done;
    /// <summary>A fork failed for want of processes or descriptors: no more until a child ends.</summary>
    private bool forkShortage;
    private long forkTicks;
    private int forks;
    private bool disposed;

    private ChunkedMap(IEnumerable<T> source, Func<T, TResult> selector, PMapOptions options, bool goOn)
    {
        this.selector = selector;
        this.goOn = goOn;
        retries = options.Retries;
        retryWhen = options.RetryWhen;
        maxPerChild = options.MaxElementsPerChild;
        limit = options.Limit ?? Cores.Usable;
        timeout = options.JobTimeout;
        timeoutTicks = timeout is { } t ? (long)(t.TotalSeconds * Stopwatch.Frequency) : 0;
        progress = options.Progress;
        whileWaiting = options.WhileWaiting;
        channelOptions = options.ChannelSettings();
        memoryBudget = options.ChildMemoryBudget;
        sharing = options.Sharing;
        selectorName = JobNames.Describe(selector);
        switch (source)
        {
            case T[] a:
                array = a;
                list = a;
                break;
            case IReadOnlyList<T> r when !IsLazyQuery(source):
                list = r;
                break;
            case IList<T> l when !IsLazyQuery(source):
                list = new ReadOnlyCollection<T>(l);
                break;
            default:
                stream = source.GetEnumerator();
                carries = ElementCarriage.Carries<T>(channelOptions.Serializer);
                break;
        }
        total = list is not null ? list.Count : source.TryGetNonEnumeratedCount(out int count) ? count : null;
        exhausted = list is { Count: 0 };
        sizer = new ChunkSizer(limit, options.BatchSize, total);
        try
        {
            board = new ProgressBoard(limit);
            memoryBoard = new ChildMemoryBoard(limit);
        }
        catch
        {
            board?.Dispose();
            stream?.Dispose();
            throw;
        }
        for (int slot = limit - 1; slot >= 0; slot--)
        {
            freeSlots.Push(slot);
        }
    }

    /// <summary>
    /// LINQ's own operators implement IList for some sources (Range, Select over a list, OrderBy),
    /// computing each element when it is read: read in a child, the operator would run there, and
    /// again in each child. They are read in the parent as streams.
    /// </summary>
    private static bool IsLazyQuery(IEnumerable<T> source) => source.GetType().Assembly == typeof(Enumerable).Assembly;

    internal static IEnumerable<TResult> Run(IEnumerable<T> source, Func<T, TResult> selector, PMapOptions options,
        CancellationToken cancellationToken)
    {
        foreach (var head in Heads(source, selector, options, goOn: false, cancellationToken))
        {
            var results = head.Results;
            for (int i = 0; i < results.Length; i++)
            {
                if (i > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                yield return results[i];
            }
            head.Failure?.Throw();
        }
    }

    /// <summary>
    /// As <see cref="Run"/>, going on past failed elements: each element's outcome in source order.
    /// The source's own failure still ends the enumeration, after the outcomes before it.
    /// </summary>
    internal static IEnumerable<Outcome<TResult>> RunOutcomes(IEnumerable<T> source, Func<T, TResult> selector, PMapOptions options,
        CancellationToken cancellationToken)
    {
        foreach (var head in Heads(source, selector, options, goOn: true, cancellationToken))
        {
            var results = head.Results;
            for (int i = 0; i < results.Length; i++)
            {
                if (i > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                }
                yield return new Outcome<TResult>(head.Start + i, results[i]);
            }
            if (head.Failure is { } failure)
            {
                if (head.SourceFailed)
                {
                    failure.Throw();
                }
                yield return new Outcome<TResult>(head.Start + results.Length, failure.SourceException);
            }
        }
    }

    /// <summary>The chunks in source order, each once its results (or its failure) are in; the map's children live while this is enumerated.</summary>
    private static IEnumerable<Chunk<T, TResult>> Heads(IEnumerable<T> source, Func<T, TResult> selector, PMapOptions options, bool goOn,
        CancellationToken cancellationToken)
    {
        using var map = new ChunkedMap<T, TResult>(source, selector, options, goOn);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var head = map.Head(cancellationToken);
            if (head is null)
            {
                yield break;
            }
            yield return head;
            map.Release(head);
        }
    }

    /// <summary>The next chunk to yield, once its results are in; null when every element has been yielded.</summary>
    private Chunk<T, TResult>? Head(CancellationToken cancellationToken)
    {
        bool looked = false;
        while (true)
        {
            if (chunks.Count > 0 && chunks.Values[0] is { Done: true } head)
            {
                if (!looked && set.Count > 0)
                {
                    // Before the consumer takes these results: collect what else has arrived, and
                    // give the children that are free their next chunks, so that they work meanwhile.
                    Pump(Deadline.Now, cancellationToken);
                }
                Dispatch();
                return head;
            }
            Dispatch();
            if (chunks.Count == 0 && (exhausted || cut >= stopAt))
            {
                return null;
            }
            if (chunks.Count > 0 && chunks.Values[0].Done)
            {
                continue;
            }
            // The head's results are not in, or no child is free for the next chunk yet.
            Pump(Deadline.Never, cancellationToken);
            looked = true;
        }
    }

    /// <summary>After the consumer has taken a chunk's results.</summary>
    private void Release(Chunk<T, TResult> head)
    {
        chunks.RemoveAt(0);
        next = head.End;
    }

    // ---- Handing out chunks ----

    /// <summary>Gives waiting chunks, and new ones while the window allows, to free children, forking children as the limit allows.</summary>
    private void Dispatch()
    {
        while (true)
        {
            if (!waiting.TryPeek(out var chunk, out _))
            {
                if (!HasRoom() || Cut() is not { } fresh)
                {
                    return;
                }
                waiting.Enqueue(fresh, fresh.Start);
                continue;
            }
            waiting.Dequeue();
            if (chunk.Start >= stopAt)
            {
                chunks.Remove(chunk.Start);
                continue;
            }
            if (!HandOut(ref chunk))
            {
                waiting.Enqueue(chunk, chunk.Start);
                return;
            }
        }
    }

    private int Alive => set.Count;

    private bool CanFork => Alive < limit && !forkShortage;

    private bool HasRoom() => CanFork || FindIdle() is not null;

    private MapWorker<T, TResult>? FindIdle()
    {
        var entries = set.Entries;
        for (int i = 0; i < entries.Count; i++)
        {
            var worker = entries[i].Owner;
            if (worker.Kept && worker.Chunk is null && !worker.Gone)
            {
                return worker;
            }
        }
        return null;
    }

    /// <summary>
    /// Gives <paramref name="chunk"/> to a child; false when none is free and none can be forked.
    /// A kept child is given no more than it may still compute (<see cref="PMapOptions.MaxElementsPerChild"/>):
    /// the rest waits as a chunk of its own, and <paramref name="chunk"/> is then the part handed out.
    /// </summary>
    private bool HandOut(ref Chunk<T, TResult> chunk)
    {
        while (true)
        {
            if (chunk.NeedsFork)
            {
                if (!CanFork)
                {
                    if (FindIdle() is not { } unused)
                    {
                        return false;
                    }
                    // Its slot is needed for a child of this chunk's own.
                    Retire(unused);
                }
                return ForkChild(chunk) is not null;
            }
            var worker = FindIdle() ?? (CanFork ? ForkChild(null) : null);
            if (worker is null)
            {
                return false;
            }
            if (maxPerChild is { } max && chunk.Count > max - worker.Computed)
            {
                chunk = Split(chunk, max - worker.Computed);
            }
            if (Assign(worker, chunk))
            {
                return true;
            }
        }
    }

    /// <summary>Cuts <paramref name="chunk"/> after its first <paramref name="count"/> elements, which it returns; the rest waits.</summary>
    private Chunk<T, TResult> Split(Chunk<T, TResult> chunk, int count)
    {
        chunks.Remove(chunk.Start);
        var head = chunk.Prefix(count);
        var rest = chunk.Suffix(count);
        head.NeedsFork = rest.NeedsFork = chunk.NeedsFork;
        chunks.Add(head.Start, head);
        chunks.Add(rest.Start, rest);
        waiting.Enqueue(rest, rest.Start);
        return head;
    }

    /// <summary>
    /// Forks a child: a kept one (<paramref name="chunk"/> null), or one for that chunk alone. Null
    /// when the system is short of processes or descriptors while other children run (tried again
    /// when one ends).
    /// </summary>
    private MapWorker<T, TResult>? ForkChild(Chunk<T, TResult>? chunk)
    {
        if (forks == 0)
        {
            MapChild<T, TResult>.Prepare();
        }
        int slot = freeSlots.Pop();
        var progressSlot = board[slot];
        progressSlot.Assign();
        var memorySlot = memoryBoard[slot];
        memorySlot.Clear();
        var child = new MapChild<T, TResult>(selector, progressSlot, timeout is not null, memorySlot, memoryBudget);
        Action<Channel> body =
            chunk is not null ? c => child.RunOnce(c, chunk.Elements!)
            : array is not null ? c => child.ServeRanges(c, array)
            : list is not null ? c => child.ServeRanges(c, list)
            : child.ServeElements;
        string job = chunk is not null ? Describe(chunk) : $"PMap child of {selectorName}";
        Channel channel;
        long began = Stopwatch.GetTimestamp();
        try
        {
            channel = PProcess.Fork.Spawn(body, job, channelOptions, selector, sharing: sharing);
        }
        catch (ForkException shortage) when (shortage.IsResourceShortage && Alive > 0)
        {
            freeSlots.Push(slot);
            forkShortage = true;
            return null;
        }
        catch
        {
            freeSlots.Push(slot);
            throw;
        }
        forkTicks += Stopwatch.GetTimestamp() - began;
        forks++;
        var worker = new MapWorker<T, TResult>(channel, slot, kept: chunk is null) { Chunk = chunk };
        set.Add(channel, worker);
        return worker;
    }

    /// <summary>Sends a chunk to a kept child. False if it cannot go (its elements are refused, or the child is gone): try again.</summary>
    private bool Assign(MapWorker<T, TResult> worker, Chunk<T, TResult> chunk)
    {
        var channel = worker.Channel;
        board[worker.Slot].Assign();
        // Named when something reads it (an error), as an exchange names its jobs (JobName): not formatted per chunk.
        channel.AssignJob(new ChunkName(this, chunk));
        try
        {
            channel.Send(chunk.Elements is { } elements ? elements : new[] { chunk.Start, chunk.Count });
        }
        catch (ChannelSerializationException) when (!channel.IsFaulted)
        {
            // These elements do not cross: a child of their own takes them.
            chunk.NeedsFork = true;
            return false;
        }
        catch (Exception e) when (e is IOException or ChannelSerializationException or ChannelProtocolException)
        {
            // The child is gone (or its stream broke): it owes nothing; its end is judged here.
            Lose(worker, e);
            return false;
        }
        worker.Chunk = chunk;
        return true;
    }

    /// <summary>Cuts the next chunk from the source, or null: the source is exhausted, failed, or the window is full.</summary>
    private Chunk<T, TResult>? Cut()
    {
        if (exhausted || cut >= stopAt || (cut > next && cut - next >= 2L * limit * sizer.Last))
        {
            return null;
        }
        long? remaining = total - cut;
        Chunk<T, TResult> chunk;
        if (list is not null)
        {
            int size = sizer.Next(remaining);
            chunk = new Chunk<T, TResult>(cut, size, null);
            exhausted = chunk.End >= list.Count;
        }
        else
        {
            int size = sizer.Next(remaining, carries ? null : ForkTarget);
            var elements = new T[size];
            int n = 0;
            try
            {
                while (n < size && stream!.MoveNext())
                {
                    elements[n++] = stream.Current;
                }
                exhausted = n < size;
            }
            catch (Exception failure)
            {
                // The source itself failed: raised at its place, after the results before it.
                exhausted = true;
                var failed = new Chunk<T, TResult>(cut + n, 1, null);
                failed.Complete([], failure);
                failed.SourceFailed = true;
                chunks.Add(failed.Start, failed);
                stopAt = Math.Min(stopAt, failed.Start);
            }
            if (n == 0)
            {
                return null;
            }
            chunk = new Chunk<T, TResult>(cut, n, n == size ? elements : elements[..n]) { NeedsFork = !carries };
        }
        cut = chunk.End;
        chunks.Add(chunk.Start, chunk);
        return chunk;
    }

    /// <summary>The work a chunk forked for alone aims at: enough that its fork is a tenth of it.</summary>
    private TimeSpan? ForkTarget =>
        forks == 0 ? null : TimeSpan.FromSeconds(Math.Max(ChunkSizer.Target.TotalSeconds, 10.0 * forkTicks / forks / Stopwatch.Frequency));

    // ---- Waiting for results ----

    /// <summary>One round of the readiness loop: waits until <paramref name="deadline"/> (or an element's timeout) for results and ended children.</summary>
    private void Pump(Deadline deadline, CancellationToken cancellationToken)
    {
        if (set.Count == 0)
        {
            throw new InvalidOperationException("PMap waited for results with no child running: this is a bug of PProcess.");
        }
        foreach (var entry in set.Entries)
        {
            if (ElementDeadline(entry.Owner) is { } due)
            {
                deadline = Deadline.Earlier(deadline, Deadline.At(due));
            }
        }
        if (whileWaiting is not null)
        {
            deadline = Deadline.Earlier(deadline, Deadline.After(whileWaiting()));
        }
        using (set.WakeOn(cancellationToken))
        {
            set.Wait(deadline, ready, ended);
        }
        leaving.RemoveAll(static child => child.TryWait() is not null);
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var entry in ready)
        {
            if (!entry.Owner.Gone)
            {
                Collect(entry.Owner);
            }
        }
        foreach (var entry in ended)
        {
            if (!entry.Owner.Gone)
            {
                Ended(entry.Owner);
            }
        }
        ExpireOverdue();
    }

    /// <summary>Receives a chunk's results, and the failure of the element after them if one failed.</summary>
    private void Collect(MapWorker<T, TResult> worker)
    {
        var channel = worker.Channel;
        if (worker.Chunk is not { } chunk)
        {
            Lose(worker, new ChannelProtocolException($"{channel.Describe()} sent a message when it owed no results."));
            return;
        }
        TResult[] results;
        try
        {
            results = channel.Receive<TResult[]>() ?? [];
        }
        catch (RemoteException error)
        {
            // An error with no results before it: the child broke the protocol, or failed outside an element.
            Finish(worker, chunk, [], error);
            return;
        }
        catch (Exception e) when (e is ChildProcessException or ChannelProtocolException or ChannelSerializationException or InvalidCastException)
        {
            // The message broke off (the child died while sending) or cannot be read.
            Lose(worker, e);
            return;
        }
        var slot = board[worker.Slot];
        if (slot.Phase == ChunkPhase.Unreadable)
        {
            TakeError(channel, Deadline.Never);
            worker.Chunk = null;
            chunk.NeedsFork = true;
            waiting.Enqueue(chunk, chunk.Start);
            return;
        }
        if (results.Length > chunk.Count)
        {
            Lose(worker, new ChannelProtocolException($"{channel.Describe()} sent {results.Length} results for {chunk.Count} elements."));
            return;
        }
        sizer.Observe(slot.Elapsed, results.Length == chunk.Count ? results.Length : results.Length + 1);
        Exception? failure = null;
        if (results.Length < chunk.Count)
        {
            channel.Job = Describe(chunk, results.Length);
            failure = TakeError(channel, ElementDeadline(worker) is { } due ? Deadline.At(due) : Deadline.Never) ?? new ChannelProtocolException(
                $"{channel.Describe()} sent {results.Length} of {chunk.Count} results and no error.");
        }
        Finish(worker, chunk, results, failure);
        if (channel.IsFaulted && !worker.Gone)
        {
            // The error after the results broke off (or ran past the timeout): the child goes.
            Retire(worker);
        }
    }

    /// <summary>Receives the error that follows partial results, waiting no later than <paramref name="deadline"/>; null if something else came.</summary>
    private Exception? TakeError(Channel channel, Deadline deadline)
    {
        channel.ReadDeadline = deadline;
        channel.ReadTimeout = timeout;
        try
        {
            channel.Receive();
            return null;
        }
        catch (Exception e) when (e is ChildProcessException or ChannelProtocolException or ChannelSerializationException)
        {
            return e;
        }
        finally
        {
            channel.ReadDeadline = Deadline.Never;
        }
    }

    private void Finish(MapWorker<T, TResult> worker, Chunk<T, TResult> chunk, TResult[] results, Exception? failure)
    {
        worker.Chunk = null;
        worker.Computed += results.Length + (failure is null ? 0 : 1);
        bool settled = true;
        if (failure is null)
        {
            chunk.Complete(results, null);
            if (attempts.Count > 0)
            {
                // A retried element that succeeded at last.
                attempts.Remove(chunk.Start);
            }
        }
        else
        {
            settled = Failed(chunk, results.Length, results, failure);
        }
        if (worker.Kept && !worker.Gone && (memoryBoard[worker.Slot].Read().Retire || worker.Computed >= maxPerChild))
        {
            // It asked to be replaced (a full collection approaches, or its budget is spent), or
            // it has computed its share of elements: a fresh fork takes its place for the next chunk.
            Retire(worker, replaced: true);
        }
        Report(results.Length + (failure is not null && settled ? 1 : 0));
    }

    /// <summary>
    /// The element at <paramref name="at"/> in <paramref name="chunk"/> failed. The elements before
    /// it keep their results (<paramref name="before"/>), or run again when their results died with
    /// the child (null); the element is tried again alone, in a child forked for it, if
    /// <see cref="PMapOptions.Retries"/> allow, or else settled with its failure (which stops the
    /// map there unless it goes on past failures); the elements after it run again. True when the
    /// element is settled.
    /// </summary>
    private bool Failed(Chunk<T, TResult> chunk, int at, TResult[]? before, Exception failure)
    {
        chunks.Remove(chunk.Start);
        if (at > 0)
        {
            var head = chunk.Prefix(at);
            head.NeedsFork = chunk.NeedsFork;
            chunks.Add(head.Start, head);
            if (before is not null)
            {
                head.Complete(before, null);
            }
            else
            {
                waiting.Enqueue(head, head.Start);
            }
        }
        if (at + 1 < chunk.Count)
        {
            var rest = chunk.Suffix(at + 1);
            rest.NeedsFork = chunk.NeedsFork;
            chunks.Add(rest.Start, rest);
            waiting.Enqueue(rest, rest.Start);
        }
        long position = chunk.Start + at;
        var element = chunk.Suffix(at).Prefix(1);
        if (Retry(position, failure))
        {
            // Alone, in a child of its own: the elements of a list go in its closure, as a stream's do.
            var again = list is not null ? new Chunk<T, TResult>(position, 1, [list[(int)position]]) : element;
            again.NeedsFork = true;
            chunks.Add(position, again);
            waiting.Enqueue(again, position);
            return false;
        }
        element.Complete([], attempts.Remove(position, out var earlier)
            ? new RetriesExhaustedException((failure as ChildProcessException)?.Job ?? Describe(element), [.. earlier, failure])
            : failure);
        chunks.Add(position, element);
        if (!goOn)
        {
            stopAt = Math.Min(stopAt, position);
        }
        return true;
    }

    /// <summary>Whether the element at <paramref name="position"/> is tried again after <paramref name="failure"/>; if so, the failure is kept for the final error.</summary>
    private bool Retry(long position, Exception failure)
    {
        if (retries == 0)
        {
            return false;
        }
        attempts.TryGetValue(position, out var earlier);
        if ((earlier?.Count ?? 0) >= retries
            || !(retryWhen is { } when ? when(failure) : failure is ChildExitedException or ChildTimeoutException))
        {
            return false;
        }
        if (earlier is null)
        {
            attempts[position] = earlier = [];
        }
        earlier.Add(failure);
        return true;
    }

    private void Report(int elements)
    {
        done += elements;
        progress?.Report(new MapProgress(done, total));
    }

    /// <summary>A child closed its end: one that owed nothing is reaped; one that owed a chunk is lost.</summary>
    private void Ended(MapWorker<T, TResult> worker)
    {
        if (worker.Chunk is null)
        {
            worker.Gone = true;
            worker.Channel.Conclude(expectMessage: false);
            worker.Channel.Close();
            Freed(worker);
            return;
        }
        Lose(worker, null);
    }

    /// <summary>Kills the children whose element has run longer than the timeout: each is blamed for it.</summary>
    private void ExpireOverdue()
    {
        // From the end: Lose removes the entry it is given.
        for (int i = set.Entries.Count - 1; i >= 0; i--)
        {
            var worker = set.Entries[i].Owner;
            if (ElementDeadline(worker) is { } due && Stopwatch.GetTimestamp() >= due)
            {
                Lose(worker, null, timeout);
            }
        }
    }

    /// <summary>
    /// When the element a child computes (or is about to start, or whose chunk's results it sends)
    /// runs out of time, in <see cref="Stopwatch"/> ticks; null with no timeout, or when the child
    /// computes nothing. Sending is the last element's time too (a result whose serialisation hangs
    /// is timed out), but results whose bytes keep arriving have until they stop for the timeout:
    /// a large result the consumer was slow to let the map read is not cut off.
    /// </summary>
    private long? ElementDeadline(MapWorker<T, TResult> worker)
    {
        if (timeout is null || worker.Chunk is null)
        {
            return null;
        }
        var slot = board[worker.Slot];
        if (slot.Phase is not (ChunkPhase.Assigned or ChunkPhase.Computing or ChunkPhase.Sending))
        {
            return null;
        }
        long due = slot.Started + timeoutTicks;
        return worker.Channel.PartialFrameSince is > 0 and var since ? Math.Max(due, since + timeoutTicks) : due;
    }

    /// <summary>
    /// A child that owed a chunk is gone (it ended, its stream broke, or it ran past the timeout and is
    /// killed now). It is reaped, and its chunk is judged by its progress slot.
    /// </summary>
    private void Lose(MapWorker<T, TResult> worker, Exception? broke, TimeSpan? timedOut = null)
    {
        var channel = worker.Channel;
        worker.Gone = true;
        set.Remove(channel);
        var child = channel.Child!;
        if (broke is not null || timedOut is not null)
        {
            child.KillAndReap();
        }
        else
        {
            // It closed its end: it is exiting; reap it (killed if it lingers past its grace).
            child.WaitOrKill(Deadline.After(channel.ExitGrace));
        }
        channel.Close();
        Freed(worker);
        if (worker.Chunk is not { } chunk)
        {
            return;
        }
        worker.Chunk = null;
        // The child is reaped: its slot says where it stopped.
        var slot = board[worker.Slot];
        int at = slot.Phase == ChunkPhase.Computing && slot.Position >= 0 && slot.Position < chunk.Count ? (int)slot.Position
            : chunk.Count == 1 ? 0
            : -1;
        if (at < 0)
        {
            // It died reading the chunk or sending its results: run the chunk again in halves.
            int half = chunk.Count / 2;
            chunks.Remove(chunk.Start);
            foreach (var part in new[] { chunk.Prefix(half), chunk.Suffix(half) })
            {
                part.NeedsFork = chunk.NeedsFork;
                chunks.Add(part.Start, part);
                waiting.Enqueue(part, part.Start);
            }
            return;
        }
        channel.Job = Describe(chunk, at);
        Exception failure = timedOut is { } allowed
            ? new ChildTimeoutException(
                $"{channel.Describe()} ran longer than the job timeout of {allowed.TotalSeconds:0.###} s, so it was killed ({child.Status}).",
                channel.Pid, channel.Job, allowed)
            : broke ?? WithThreadHint(worker, channel.Conclude(expectMessage: true)!);
        // The elements before it were computed, but their results died with the child: again, elsewhere.
        if (Failed(chunk, at, null, failure))
        {
            Report(1);
        }
    }

    /// <summary>
    /// A child killed by SIGKILL while the map is enumerated on another thread than the one that
    /// forked it: that thread may have ended, which kills its children. Says so.
    /// </summary>
    private static ChildProcessException WithThreadHint(MapWorker<T, TResult> worker, ChildProcessException failure) =>
        failure is ChildExitedException { Signal: 9 } killed && worker.ForkThread != Environment.CurrentManagedThreadId
            ? new ChildExitedException(
                $"{killed.Message} This map is enumerated on thread {Environment.CurrentManagedThreadId}, and the child was forked on thread " +
                $"{worker.ForkThread}: a child is killed when the thread that forked it ends (docs/fork-safety.md, rule 15). " +
                "Enumerate a PMap on one thread that outlives it.", killed.Pid, killed.Job, killed.Status)
            : failure;

    /// <summary>
    /// Lets an idle kept child go, to free its place: for a child of another kind, or for a fresh
    /// fork (<paramref name="replaced"/>: it asked to be replaced). It is told to quit and reaped
    /// once it has left (<see cref="leaving"/>); it owes nothing, so nothing is lost.
    /// </summary>
    private void Retire(MapWorker<T, TResult> worker, bool replaced = false)
    {
        Measure(worker, replaced);
        worker.Gone = true;
        set.Remove(worker.Channel);
        try
        {
            worker.Channel.SendQuit();
            worker.Channel.Close();
            leaving.Add(worker.Channel.Child!);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or ChannelProtocolException)
        {
            // Already gone: reaped now.
            worker.Channel.Dispose();
        }
        Freed(worker);
    }

    /// <summary>Records what a live child un-shares, when the caller asked (<see cref="PMapOptions.Sharing"/>).</summary>
    private void Measure(MapWorker<T, TResult> worker, bool replaced)
    {
        if (sharing is null || worker.Channel.Child is not { } child)
        {
            return;
        }
        long privateBytes = HeapSharing.PrivateDirty(child.Pid);
        if (privateBytes >= 0)
        {
            var heap = memoryBoard[worker.Slot].Read();
            sharing.Measured(new ChildMemory(child.Pid, privateBytes, heap.Inherited, heap.OwnPeak, heap.FullCollections, replaced));
        }
    }

    private void Freed(MapWorker<T, TResult> worker)
    {
        freeSlots.Push(worker.Slot);
        forkShortage = false;
    }

    /// <summary>A chunk's name in error messages: "#7 lambda in Program.Main(7)", or "#12-15 lambda in Program.Main()".</summary>
    /// <summary>A chunk's name, made when first read.</summary>
    private sealed class ChunkName(ChunkedMap<T, TResult> map, Chunk<T, TResult> chunk)
    {
        private string? text;

        public override string ToString() => text ??= map.Describe(chunk);
    }

    private string Describe(Chunk<T, TResult> chunk) => chunk.Count == 1 ? Describe(chunk, 0) : $"#{chunk.Start}-{chunk.End - 1} {selectorName}";

    /// <summary>The name of the chunk's element at <paramref name="offset"/>: "#7 lambda in Program.Main(7)".</summary>
    private string Describe(Chunk<T, TResult> chunk, int offset)
    {
        long position = chunk.Start + offset;
        var element = list is not null ? list[(int)position] : chunk.ElementAt(offset);
        return $"#{position} {JobNames.Describe(selector, element)}";
    }

    /// <summary>Tells the idle kept children to quit, kills the others, and reaps them all.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        var quitting = new List<Channel>();
        foreach (var entry in set.Entries.ToArray())
        {
            var worker = entry.Owner;
            var channel = worker.Channel;
            if (worker.Kept && worker.Chunk is null)
            {
                // An idle child's figures are its last chunk's; a busy one's own objects of its
                // current chunk are not counted yet, so it is not measured (it is killed).
                Measure(worker, replaced: false);
            }
            worker.Gone = true;
            if (worker.Kept && worker.Chunk is null)
            {
                try
                {
                    channel.SendQuit();
                    quitting.Add(channel);
                    continue;
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException or ChannelProtocolException)
                {
                    // Already gone: killed and reaped below.
                }
            }
            channel.Dispose();
        }
        foreach (var channel in quitting)
        {
            channel.Close();
            channel.Child?.WaitOrKill(Deadline.After(channel.ExitGrace));
        }
        foreach (var child in leaving)
        {
            child.WaitOrKill(Deadline.After(channelOptions.ExitGrace));
        }
        set.Dispose();
        board.Dispose();
        memoryBoard.Dispose();
        stream?.Dispose();
    }
}
