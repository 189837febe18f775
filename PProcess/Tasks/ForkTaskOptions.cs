namespace PProcess;

/// <summary>
/// Settings of <see cref="ForkTask.Run{TResult}(Func{TResult}, ForkTaskOptions, CancellationToken)"/>: the
/// channel's, and a limit of children alive at once. The forks made with the same options object
/// share its limit; those made without one share a limit of <see cref="Cores.Usable"/>.
/// </summary>
public sealed class ForkTaskOptions : ChannelOptions
{
    private int? limit;

    /// <summary>
    /// The most children of these options alive at once; null (the default) is <see cref="Cores.Usable"/>.
    /// At least 1. A fork past it waits, its task pending, until one of them has ended; that child then
    /// sees the parent's memory as it is when it is forked. Read at the first fork made with these options.
    /// </summary>
    public int? Limit
    {
        get => limit;
        set => limit = ValidLimit(value, "ForkTask's limit (children alive at once)");
    }
}
