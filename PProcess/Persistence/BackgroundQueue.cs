namespace PProcess;

/// <summary>
/// pprocess's BackgroundQueue(address): a <see cref="PersistentQueue{TResult}"/> connected to
/// the background process at one address, typically one started by a
/// <see cref="BackgroundCallable"/> in an earlier run.
/// </summary>
public class BackgroundQueue<TResult> : PersistentQueue<TResult>
{
    /// <summary>Connects to the background process at <paramref name="address"/>; see <see cref="PersistentExchange.Connect"/>.</summary>
    /// <param name="address">The socket path.</param>
    /// <param name="options">The results' serializer, the confirmation and connect timeouts; the limit is 1.</param>
    public BackgroundQueue(string address, PersistentExchangeOptions? options = null)
        : base(WithLimitOne(options))
    {
        Address = address;
        Connect(address);
    }

    /// <summary>The address connected to.</summary>
    public string Address { get; }

    private static PersistentExchangeOptions WithLimitOne(PersistentExchangeOptions? options)
    {
        var one = new PersistentExchangeOptions { Limit = 1 };
        if (options is not null)
        {
            (one.Serializer, one.ConfirmationTimeout, one.ConnectTimeout, one.LogPath) =
                (options.Serializer, options.ConfirmationTimeout, options.ConnectTimeout, options.LogPath);
        }
        return one;
    }
}
