namespace PProcess;

/// <summary>
/// How the bytes of a channel travel between the parent and a child. Both kinds carry the same
/// frames, and report the same errors (a child that dies is a <see cref="ChildExitedException"/>
/// either way); they differ in speed and in the descriptors they hold (docs/channels.md).
/// </summary>
public enum ChannelTransportKind
{
    /// <summary>A Unix stream socketpair: one descriptor per end. The default.</summary>
    Socket,

    /// <summary>
    /// Shared memory mapped before the fork: one single-producer single-consumer ring per
    /// direction, with eventfd wake-ups and a socketpair kept alongside to see the peer hang up.
    /// Five descriptors per end; messages larger than a ring stream through it.
    /// </summary>
    SharedMemory,
}
