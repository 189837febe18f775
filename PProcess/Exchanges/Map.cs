using System.Collections;

namespace PProcess;

/// <summary>
/// pprocess's Map: an exchange whose results are kept in the order the jobs were started
/// (by <see cref="Exchange.Start{T1}(ParallelJob{T1}, T1)"/>, <see cref="Exchange.Manage{T1}(ParallelJob{T1})"/> or <see cref="Exchange.Create"/>),
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
    private readonly IProgress<MapProgress>? progress;

    /// <summary>Creates a map.</summary>
    /// <param name="options">
    /// Its limit, reuse, job timeout (a job that runs longer fails at its index) and channel settings.
    /// Not continuous: each child sends one result.
    /// </param>
    public Map(ExchangeOptions? options = null)
        : base(Checked(options))
    {
        progress = options?.Progress;
    }

    /// <summary>Creates a map with at most <paramref name="limit"/> children alive at once.</summary>
    public Map(int limit)
        : base(limit)
    {
    }

    private static ExchangeOptions? Checked(ExchangeOptions? options) =>
        options is { Continuous: true }
            ? throw new ArgumentException("A Map keeps one result per job: its options cannot be continuous (use a ResultQueue).", nameof(options))
            : options;

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
            return Await(index, default);
        }
    }

    /// <summary>
    /// The result of job <paramref name="index"/>, as the indexer, with a token that cancels the
    /// wait (the children are killed and <see cref="OperationCanceledException"/> is raised).
    /// </summary>
    public TResult Get(int index, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return Await(index, cancellationToken);
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
                slice[i] = Await(offset + i, default);
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
    public IEnumerator<TResult> GetEnumerator() => WithCancellation(default).GetEnumerator();

    /// <summary>The results in job order, as the enumerator yields them, with a token that cancels the waits.</summary>
    public IEnumerable<TResult> WithCancellation(CancellationToken cancellationToken)
    {
        for (int i = 0; i < Count; i++)
        {
            yield return Await(i, cancellationToken);
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
        progress?.Report(new MapProgress(results.Count, null));
    }

    private protected override bool TakeFailure(Channel channel, long ticket, Exception failure)
    {
        if (ticket < 0)
        {
            return false;
        }
        results[ticket] = new Outcome(default!, failure);
        progress?.Report(new MapProgress(results.Count, null));
        return true;
    }

    private TResult Await(int index, CancellationToken cancellationToken)
    {
        Outcome outcome;
        while (!results.TryGetValue(index, out outcome))
        {
            if (!Unfinished())
            {
                throw new InvalidOperationException($"The result of job #{index} never arrived, and nothing is left running.");
            }
            Store(null, cancellationToken);
        }
        if (outcome.Failure is { } failure)
        {
            throw failure;
        }
        return outcome.Value;
    }

    private readonly record struct Outcome(TResult Value, Exception? Failure);
}
