using System.Collections;
using PProcess.Serialization;

namespace PProcess;

/// <summary>
/// pprocess's Map: an exchange whose results are kept in the order the jobs were started
/// (by <see cref="Exchange.Start{T1}"/>, <see cref="Exchange.Manage{T1}"/> or <see cref="Exchange.Create"/>),
/// whatever order they arrive in. Reading an element, a range, or iterating, waits only until
/// those results are in, driving the exchange meanwhile. A job that failed raises its exception
/// (with the child's stack, for a <see cref="RemoteException"/>) where its result would be; the
/// other results are kept. Each child sends exactly one result, of type <typeparamref name="TResult"/>.
/// Not thread-safe, like every exchange.
/// </summary>
/// <typeparam name="TResult">The type of each job's result.</typeparam>
public class Map<TResult> : Exchange, IReadOnlyList<TResult>
{
    private readonly Dictionary<long, Outcome> results = [];

    /// <summary>Creates a map.</summary>
    /// <param name="limit">The most children alive at once; by default <see cref="Cores.Usable"/>.</param>
    /// <param name="reuse">Reuse the children of <see cref="Exchange.MakeReusable{T1, TResult}"/> jobs.</param>
    /// <param name="serializer">The serializer for results (and for arguments handed to reused children).</param>
    /// <param name="jobTimeout">How long one job may run; see <see cref="Exchange.JobTimeout"/>. The job fails at its index.</param>
    /// <param name="cancellationToken">Cancels waiting: children are killed and <see cref="OperationCanceledException"/> is raised.</param>
    /// <param name="transport">How the channels carry their bytes: a socketpair (null, the default) or shared memory.</param>
    public Map(int? limit = null, bool reuse = false, IChannelSerializer? serializer = null, TimeSpan? jobTimeout = null,
        CancellationToken cancellationToken = default, ChannelTransportKind? transport = null)
        : base(limit, reuse, continuous: false, autoclose: true, channels: null, serializer: serializer, jobTimeout: jobTimeout,
            cancellationToken: cancellationToken, transport: transport)
    {
    }

    /// <summary>The number of jobs started so far (running, queued or done).</summary>
    public int Count => checked((int)JobsStarted);

    /// <summary>The number of jobs whose result (or failure) has arrived.</summary>
    public int Arrived => results.Count;

    /// <summary>The result of job <paramref name="index"/> (0 is the first started), waiting for it if need be.</summary>
    public TResult this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return Await(index);
        }
    }

    /// <summary>The results of a range of jobs (pprocess's slice), waiting only for those.</summary>
    public TResult[] this[Range range]
    {
        get
        {
            var (offset, length) = range.GetOffsetAndLength(Count);
            var slice = new TResult[length];
            for (int i = 0; i < length; i++)
            {
                slice[i] = Await(offset + i);
            }
            return slice;
        }
    }

    /// <summary>True when job <paramref name="index"/>'s result or failure has arrived; never waits.</summary>
    public bool IsReady(int index) => results.ContainsKey(index);

    /// <summary>
    /// Yields the results in job order, each as soon as it and all before it have arrived.
    /// Jobs started during the iteration are included.
    /// </summary>
    public IEnumerator<TResult> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return Await(i);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Receives one job's result and keeps it at that job's index.</summary>
    protected override void StoreData(Channel channel)
    {
        long ticket = TicketOf(channel);
        var value = channel.Receive<TResult>();
        if (ticket < 0)
        {
            throw new ChannelProtocolException($"{channel} sent a result when it owed none.");
        }
        results[ticket] = new Outcome(value, null);
    }

    private protected override bool TakeFailure(Channel channel, long ticket, Exception failure)
    {
        if (ticket < 0)
        {
            return false;
        }
        results[ticket] = new Outcome(default!, failure);
        return true;
    }

    private TResult Await(int index)
    {
        Outcome outcome;
        while (!results.TryGetValue(index, out outcome))
        {
            if (!Unfinished())
            {
                throw new InvalidOperationException($"The result of job #{index} never arrived, and nothing is left running.");
            }
            Store();
        }
        if (outcome.Failure is { } failure)
        {
            throw failure;
        }
        return outcome.Value;
    }

    private readonly record struct Outcome(TResult Value, Exception? Failure);
}
