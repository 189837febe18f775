using PProcess.Serialization;

namespace PProcess;

/// <summary>
/// pprocess's BackgroundQueue(address): a <see cref="PersistentQueue{TResult}"/> connected to
/// the background process at one address, typically one started by a
/// <see cref="BackgroundCallable"/> in an earlier run.
/// </summary>
public class BackgroundQueue<TResult> : PersistentQueue<TResult>
{
    /// <summary>Connects to the background process at <paramref name="address"/>; see <see cref="PersistentExchange.Connect"/>.</summary>
    public BackgroundQueue(string address, IChannelSerializer? serializer = null)
        : base(1, serializer)
    {
        Address = address;
        Connect(address);
    }

    /// <summary>The address connected to.</summary>
    public string Address { get; }
}
