namespace PProcess.Transports;

/// <summary>
/// Both ends of a channel, made before the fork. After it, the parent takes its end with
/// <see cref="Parent"/> and the child its own with <see cref="Child"/> (each closes what belongs
/// only to the other); if no fork happens, <see cref="Abandon"/> releases everything.
/// </summary>
internal abstract class ChannelEnds
{
    /// <summary>Makes the resources of a channel with the given settings; a shortage raises <see cref="ForkException"/>.</summary>
    internal static ChannelEnds Create(ChannelOptions options) => options.Transport switch
    {
        ChannelTransportKind.Socket => new SocketTransport.Ends(),
        ChannelTransportKind.SharedMemory => new SharedMemoryTransport.Ends(options.RingCapacity, options.SpinLimit),
        var kind => throw new ArgumentOutOfRangeException(nameof(options), kind, "Unknown channel transport kind."),
    };

    /// <summary>Every descriptor the ends hold, registered before the fork (<see cref="Runtime.DescriptorRegistry"/>); each closes through the registry.</summary>
    internal abstract int[] Descriptors { get; }

    /// <summary>In the parent, after the fork: its end.</summary>
    internal abstract IChannelTransport Parent();

    /// <summary>In the child, after the fork: its end.</summary>
    internal abstract IChannelTransport Child();

    /// <summary>No fork happened: releases both ends.</summary>
    internal abstract void Abandon();
}
