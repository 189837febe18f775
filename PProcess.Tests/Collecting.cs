namespace PProcess.Tests;

/// <summary>An exchange that keeps every value it receives, in arrival order.</summary>
public sealed class Collecting : Exchange
{
    public Collecting(int limit, bool continuous = false)
        : this(new ExchangeOptions { Limit = limit, Continuous = continuous })
    {
    }

    public Collecting(ExchangeOptions options)
        : base(options)
    {
    }

    public List<object?> Results { get; } = [];

    protected override void StoreData(Channel channel) => Results.Add(channel.Receive());
}
