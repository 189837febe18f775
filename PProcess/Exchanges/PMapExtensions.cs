using PProcess.Exchanges;
using PProcess.Serialization;

namespace PProcess;

/// <summary>pprocess's pmap, as a parallel <c>Select</c> over any sequence.</summary>
public static class PMapExtensions
{
    /// <summary>
    /// Applies <paramref name="selector"/> to each element in child processes and yields the
    /// results in the order of <paramref name="source"/>. Lazy and streaming: nothing runs until
    /// the result is enumerated, the source is read only as far as a bounded window of jobs
    /// (twice <paramref name="limit"/> batches) ahead of the consumer, and results are released once
    /// yielded, so an endless source works. The selector sees the parent's state as it was at the
    /// fork (copy-on-write); its result crosses back through the serializer. If the selector
    /// throws for one element, the results before it are yielded and then the exception is raised
    /// at that element (a <see cref="RemoteException"/> with the child's stack); a child that dies
    /// is raised as a <see cref="ChildExitedException"/> at its first element.
    /// </summary>
    /// <param name="source">The elements.</param>
    /// <param name="selector">The work for one element.</param>
    /// <param name="limit">The most children alive at once; by default <see cref="Cores.Usable"/>.</param>
    /// <param name="batchSize">Elements per child job: more than 1 spreads the cost of a fork (or of a hand-over) over many small elements.</param>
    /// <param name="reuse">
    /// Keep each child alive and hand it the next batch over its channel instead of forking per batch.
    /// The elements then cross through the serializer, so they must be serialisable.
    /// </param>
    /// <param name="serializer">The serializer for results (and for batches handed to reused children).</param>
    /// <param name="timeout">
    /// How long one batch may run; a child still working after that is killed, and the enumeration
    /// raises <see cref="ChildTimeoutException"/> at the batch's first element. Null: no limit.
    /// </param>
    /// <param name="cancellationToken">
    /// Cancels the enumeration: the children are killed and reaped and <see cref="OperationCanceledException"/> is raised.
    /// </param>
    /// <param name="transport">How results (and, with reuse, batches) travel: a socketpair (null, the default) or shared memory.</param>
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, int? limit = null,
        int batchSize = 1, bool reuse = false, IChannelSerializer? serializer = null, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default, ChannelTransportKind? transport = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (transport is { } kind && !Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(transport), transport, "Unknown channel transport kind.");
        }
        ArgumentNullException.ThrowIfNull(selector);
        if (limit is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "PMap's limit is the number of children alive at once and must be at least 1.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (timeout is { } t && t <= TimeSpan.Zero && t != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "PMap's timeout must be positive (or null for none).");
        }
        return Iterate(source, selector, limit ?? Cores.Usable, batchSize, reuse, serializer, timeout, cancellationToken, transport);
    }

    private static IEnumerable<TResult> Iterate<T, TResult>(IEnumerable<T> source, Func<T, TResult> selector, int limit,
        int batchSize, bool reuse, IChannelSerializer? serializer, TimeSpan? timeout, CancellationToken cancellationToken,
        ChannelTransportKind? transport)
    {
        using var exchange = new BatchExchange<TResult>(limit, reuse, serializer, timeout, cancellationToken, transport);
        Action<Channel, T[]> job = reuse
            ? WrappedJob.Register<Action<Channel, T[]>>((c, first) => ReusableChild.Serve(c, first, (ch, items) => SendBatch(ch, items, selector)),
                selector, reusable: true)
            : WrappedJob.Register<Action<Channel, T[]>>((c, items) => SendBatch(c, items, selector), selector, reusable: false);
        int window = checked(limit * 2);
        using var items = source.GetEnumerator();
        bool exhausted = false;
        long next = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            while (!exhausted && exchange.Started - next < window)
            {
                var batch = new List<T>(batchSize);
                while (batch.Count < batchSize && items.MoveNext())
                {
                    batch.Add(items.Current);
                }
                if (batch.Count < batchSize)
                {
                    exhausted = true;
                }
                if (batch.Count > 0)
                {
                    exchange.Add(job, batch.ToArray());
                }
            }
            if (next == exchange.Started)
            {
                yield break;
            }
            if (exchange.TryTake(next, out var results, out var failure))
            {
                next++;
                foreach (var result in results)
                {
                    yield return result;
                }
                if (failure is not null)
                {
                    throw failure;
                }
                continue;
            }
            exchange.Store();
        }
    }

    /// <summary>In the child: the batch's results as one message; if an element fails, the results before it, then the exception.</summary>
    private static void SendBatch<T, TResult>(Channel channel, T[] items, Func<T, TResult> selector)
    {
        var results = new TResult[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            try
            {
                results[i] = selector(items[i]);
            }
            catch (Exception)
            {
                channel.Send(results[..i]);
                throw;
            }
        }
        channel.Send(results);
    }

    /// <summary>The exchange behind PMap: one batch per job, results kept by batch until taken.</summary>
    private sealed class BatchExchange<TResult>(int limit, bool reuse, IChannelSerializer? serializer, TimeSpan? timeout,
        CancellationToken cancellationToken, ChannelTransportKind? transport)
        : Exchange(limit, reuse, serializer: serializer, jobTimeout: timeout, cancellationToken: cancellationToken, transport: transport)
    {
        private readonly Dictionary<long, int> sizes = [];
        private readonly Dictionary<long, (TResult[] Results, Exception? Failure)> done = [];

        internal long Started => JobsStarted;

        internal void Add<T>(Action<Channel, T[]> job, T[] batch)
        {
            sizes[JobsStarted] = batch.Length;
            Start(job, batch);
        }

        internal bool TryTake(long ticket, out TResult[] results, out Exception? failure)
        {
            if (done.Remove(ticket, out var outcome))
            {
                sizes.Remove(ticket);
                (results, failure) = outcome;
                return true;
            }
            results = [];
            failure = null;
            return false;
        }

        protected override void StoreData(Channel channel)
        {
            long ticket = TicketOf(channel);
            var results = channel.Receive<TResult[]>() ?? [];
            if (ticket < 0 || !sizes.TryGetValue(ticket, out int size) || results.Length > size)
            {
                throw new ChannelProtocolException($"{channel} sent a result it did not owe.");
            }
            done[ticket] = (results, null);
            if (results.Length < size)
            {
                // Part of a batch: the next message is the exception of the element that failed.
                channel.Receive();
                throw new ChannelProtocolException($"{channel} sent {results.Length} of {size} results and no error.");
            }
        }

        private protected override bool TakeFailure(Channel channel, long ticket, Exception failure)
        {
            if (ticket < 0)
            {
                return false;
            }
            var partial = done.TryGetValue(ticket, out var outcome) ? outcome.Results : [];
            done[ticket] = (partial, failure);
            return true;
        }
    }
}
