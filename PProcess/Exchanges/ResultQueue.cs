using System.Collections;
using PProcess.Serialization;

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

    /// <summary>Creates a queue.</summary>
    /// <param name="limit">The most children alive at once; by default <see cref="Cores.Usable"/>.</param>
    /// <param name="reuse">Reuse the children of <see cref="Exchange.MakeReusable{T1, TResult}"/> jobs.</param>
    /// <param name="continuous">Each child sends any number of messages, each yielded as it arrives.</param>
    /// <param name="serializer">The serializer for results (and for arguments handed to reused children).</param>
    /// <param name="jobTimeout">How long one job may run; see <see cref="Exchange.JobTimeout"/>. The failure is queued where it happened.</param>
    /// <param name="cancellationToken">Cancels waiting: children are killed and <see cref="OperationCanceledException"/> is raised.</param>
    /// <param name="transport">How the channels carry their bytes: a socketpair (null, the default) or shared memory.</param>
    public ResultQueue(int? limit = null, bool reuse = false, bool continuous = false, IChannelSerializer? serializer = null,
        TimeSpan? jobTimeout = null, CancellationToken cancellationToken = default,
        ChannelTransportKind? transport = null)
        : base(limit, reuse, continuous, autoclose: true, channels: null, serializer: serializer, jobTimeout: jobTimeout,
            cancellationToken: cancellationToken, transport: transport)
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
    public IEnumerator<TResult> GetEnumerator()
    {
        while (true)
        {
            if (TryTake(out var value))
            {
                yield return value;
            }
            else if (Unfinished())
            {
                Store();
            }
            else
            {
                yield break;
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Receives one message and queues it.</summary>
    protected override void StoreData(Channel channel) => arrived.Enqueue((channel.Receive<TResult>(), null));

    private protected override bool TakeFailure(Channel channel, long ticket, Exception failure)
    {
        arrived.Enqueue((default!, failure));
        return true;
    }
}
