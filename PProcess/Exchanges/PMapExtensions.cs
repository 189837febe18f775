using PProcess.Exchanges;

namespace PProcess;

/// <summary>pprocess's pmap, as a parallel <c>Select</c> over any sequence.</summary>
public static class PMapExtensions
{
    /// <summary>
    /// Applies <paramref name="selector"/> to each element in child processes and yields the
    /// results in the order of <paramref name="source"/>. Lazy and streaming: nothing runs until
    /// the result is enumerated, the source is read only as far as a bounded window of jobs
    /// (twice the limit, in batches) ahead of the consumer, and results are released once
    /// yielded, so an endless source works. The selector sees the parent's state as it was at the
    /// fork (copy-on-write); its result crosses back through the serializer. If the selector
    /// throws for one element, the results before it are yielded and then the exception is raised
    /// at that element (a <see cref="RemoteException"/> with the child's stack); a child that dies
    /// is raised as a <see cref="ChildExitedException"/> at its first element.
    /// </summary>
    /// <param name="source">The elements.</param>
    /// <param name="selector">The work for one element.</param>
    /// <param name="options">The limit, batch size, reuse, job timeout and channel settings; by default <see cref="PMapOptions"/>'s.</param>
    /// <param name="cancellationToken">
    /// Cancels the enumeration: the children are killed and reaped and <see cref="OperationCanceledException"/> is raised.
    /// </param>
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        return Iterate(source, selector, options ?? new PMapOptions(), cancellationToken);
    }

    /// <summary>As <see cref="PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with at most <paramref name="limit"/> children alive at once.</summary>
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, int limit) =>
        source.PMap(selector, new PMapOptions { Limit = limit });

    private static IEnumerable<TResult> Iterate<T, TResult>(IEnumerable<T> source, Func<T, TResult> selector, PMapOptions options,
        CancellationToken cancellationToken)
    {
        int limit = options.Limit ?? Cores.Usable;
        int batchSize = options.BatchSize;
        using var exchange = new BatchExchange<TResult>(new ExchangeOptions
        {
            Limit = limit, Reuse = options.Reuse, JobTimeout = options.JobTimeout, Serializer = options.Serializer,
            Transport = options.Transport, ExitGrace = options.ExitGrace, RingCapacity = options.RingCapacity, SpinLimit = options.SpinLimit,
        });
        var job = options.Reuse
            ? new ParallelJob<T[]>((c, first) => ReusableChild.Serve(c, first, (ch, items) => SendBatch(ch, items, selector)), selector, reusable: true)
            : new ParallelJob<T[]>((c, items) => SendBatch(c, items, selector), selector, reusable: false);
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
            exchange.Store(null, cancellationToken);
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
    private sealed class BatchExchange<TResult>(ExchangeOptions options) : Exchange(options)
    {
        private readonly Dictionary<long, int> sizes = [];
        private readonly Dictionary<long, (TResult[] Results, Exception? Failure)> done = [];

        internal long Started => JobsStarted;

        internal void Add<T>(ParallelJob<T[]> job, T[] batch)
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
