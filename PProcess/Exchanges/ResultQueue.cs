using System.Collections;

namespace PProcess;

/// <summary>
/// pprocess's Queue: an exchange whose results are yielded in the order they arrive. Iterating
/// waits while work is unfinished and ends when every child has ended and nothing is queued.
/// A child's failure is raised by the iteration at the point it arrived; the results that
/// arrived before it were yielded first, and a new iteration carries on with the rest.
/// (Named ResultQueue because <c>Queue&lt;T&gt;</c> would clash with
/// System.Collections.Generic.Queue&lt;T&gt; in every file that uses both.) Not thread-safe.
/// </summary>
/// <typeparam name="TResult">The type of each message the children send.</typeparam>
public class ResultQueue<TResult> : Exchange, IEnumerable<TResult>
{
    private readonly Queue<(TResult Value, Exception? Failure)> arrived = new();
    private readonly IProgress<MapProgress>? progress;
    private long received;

    /// <summary>Creates a queue.</summary>
    /// <param name="options">
    /// Its limit, reuse or continuous mode (each child sends any number of messages, each yielded as it
    /// arrives), job timeout (the failure is queued where it happened) and channel settings.
    /// </param>
    public ResultQueue(ExchangeOptions? options = null)
        : base(options)
    {
        progress = options?.Progress;
    }

    /// <summary>Creates a queue with at most <paramref name="limit"/> children alive at once.</summary>
    public ResultQueue(int limit)
        : base(limit)
    {
    }

    /// <summary>The number of results that have arrived and not been taken yet.</summary>
    public int Count => arrived.Count;

    /// <summary>Takes the next arrived result without waiting; false if none is there.</summary>
    public bool TryTake(out TResult value)
    {
        if (arrived.TryDequeue(out var item))
        {
            if (item.Failure is { } failure)
            {
                throw failure;
            }
            value = item.Value;
            return true;
        }
        value = default!;
        return false;
    }

    /// <summary>Yields results as they arrive, until every child has ended and no job is queued.</summary>
    public IEnumerator<TResult> GetEnumerator() => WithCancellation(default).GetEnumerator();

    /// <summary>
    /// The results as they arrive, as the enumerator yields them, with a token that cancels the
    /// waits: the children are killed and <see cref="OperationCanceledException"/> is raised.
    /// </summary>
    public IEnumerable<TResult> WithCancellation(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (TryTake(out var value))
            {
                yield return value;
            }
            else if (Unfinished())
            {
                Store(null, cancellationToken);
            }
            else
            {
                yield break;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Receives one message and queues it.</summary>
    protected override void StoreData(Channel channel)
    {
        arrived.Enqueue((channel.Receive<TResult>(), null));
        Report();
    }

    private protected override bool TakeFailure(Channel channel, long ticket, Exception failure)
    {
        arrived.Enqueue((default!, failure));
        Report();
        return true;
    }

    private void Report()
    {
        received++;
        progress?.Report(new MapProgress(received, null));
    }
}
