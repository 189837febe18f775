namespace PProcess;

/// <summary>
/// pprocess's PersistentQueue: a <see cref="PersistentExchange"/> whose results are enumerated
/// in arrival order. Enumerating connects to the background processes it started, and to those
/// given to <see cref="PersistentExchange.Connect"/>, and ends when all have been collected and
/// confirmed. A job's exception is raised from the enumeration at its place.
/// </summary>
public class PersistentQueue<TResult> : PersistentExchange, IEnumerable<TResult>
{
    private readonly Queue<TResult> arrived = new();

    /// <inheritdoc cref="PersistentExchange(PersistentExchangeOptions?)"/>
    public PersistentQueue(PersistentExchangeOptions? options = null)
        : base(options)
    {
    }

    /// <inheritdoc cref="PersistentExchange(int)"/>
    public PersistentQueue(int limit)
        : base(limit)
    {
    }

    /// <summary>Results received and not yet enumerated.</summary>
    public int Count => arrived.Count;

    /// <summary>Collects results until they have all been confirmed, yielding each as it arrives.</summary>
    public IEnumerator<TResult> GetEnumerator()
    {
        while (true)
        {
            while (arrived.TryDequeue(out var value))
            {
                yield return value;
            }
            ConnectStarted();
            if (!Unfinished())
            {
                yield break;
            }
            Store();
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    protected override void StoreData(Channel channel) => arrived.Enqueue(channel.Receive<TResult>());
}
