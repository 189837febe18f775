namespace PProcess.Tests;

/// <summary>An exchange that keeps every value it receives, in arrival order.</summary>
public sealed class Collecting(int limit, bool continuous = false, CancellationToken cancellationToken = default)
    : Exchange(limit: limit, continuous: continuous, cancellationToken: cancellationToken)
{
    public List<object?> Results { get; } = [];

    protected override void StoreData(Channel channel) => Results.Add(channel.Receive());
}
