using PProcess.Exchanges;

namespace PProcess.Mapping;

/// <summary>
/// PMap in <see cref="PMapMode.ForkPerElement"/> mode, pprocess's pmap: each batch (one element
/// unless <see cref="PMapOptions.BatchSize"/> says otherwise) is a job of a private exchange, run by
/// a child forked for it or, with <see cref="PMapOptions.Reuse"/>, handed to a child that has
/// finished its batch (<see cref="ReusableChild"/>). The source is read a window of twice the
/// limit in batches ahead of the consumer.
/// </summary>
internal static class ForkPerElementMap
{
    internal static IEnumerable<TResult> Run<T, TResult>(IEnumerable<T> source, Func<T, TResult> selector, PMapOptions options,
        CancellationToken cancellationToken)
    {
        int limit = options.Limit ?? Cores.Usable;
        int batchSize = options.BatchSize ?? 1;
        long? total = source.TryGetNonEnumeratedCount(out int count) ? count : null;
        var settings = options.ChannelSettings<ExchangeOptions>();
        (settings.Limit, settings.Reuse, settings.JobTimeout) = (limit, options.Reuse, options.JobTimeout);
        using var exchange = new BatchExchange<TResult>(settings, options.Progress, total);
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
            exchange.Store(options.WhileWaiting?.Invoke(), cancellationToken);
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

    /// <summary>The exchange behind this mode: one batch per job, results kept by batch until taken.</summary>
    private sealed class BatchExchange<TResult>(ExchangeOptions options, IProgress<MapProgress>? progress, long? total) : Exchange(options)
    {
        private readonly Dictionary<long, int> sizes = [];
        private readonly Dictionary<long, (TResult[] Results, Exception? Failure)> done = [];
        private long elementsDone;

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
            Report(results.Length);
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
            Report(1);
            return true;
        }

        private void Report(int elements)
        {
            elementsDone += elements;
            progress?.Report(new MapProgress(elementsDone, total));
        }
    }
}
