namespace PProcess.Transports;

/// <summary>What a look at a channel found, without blocking.</summary>
internal enum ProbeResult
{
    /// <summary>No whole message yet; the peer is still there.</summary>
    Empty,
    /// <summary>A whole message can be received without blocking (or a fault can be reported).</summary>
    Data,
    /// <summary>The peer closed its end and everything it sent has been read.</summary>
    EndOfStream,
}

/// <summary>
/// A byte stream between the two ends of a channel, with descriptors that poll can watch.
/// The channel assembles frames on top of it (Channels/Inbox.cs). Nothing a transport reads from
/// its peer is trusted: a value that breaks the protocol (a ring position outside the ring) raises
/// <see cref="ChannelProtocolException"/>.
/// </summary>
internal interface IChannelTransport : IDisposable
{
    /// <summary>
    /// The descriptors poll watches for POLLIN: data or a wake-up that may mean data (first), and
    /// the peer's hang-up (a socket shows both on one descriptor).
    /// </summary>
    int[] PollDescriptors { get; }

    /// <summary>How long a reader may watch memory before it blocks (shared memory: a reply often comes within microseconds); zero for a socket.</summary>
    TimeSpan SpinLimit { get; }

    /// <summary>Every descriptor this end holds: registered so that other children close them (DescriptorRegistry).</summary>
    int[] Descriptors { get; }

    /// <summary>
    /// Called before blocking in poll on <see cref="PollDescriptors"/>: asks for a wake-up when data
    /// arrives, and returns true if data is already there (then do not block). A socket is level-triggered
    /// and returns false.
    /// </summary>
    bool ArmWakeUp();

    /// <summary>
    /// True when data is buffered for this end and can be read without a system call (shared memory);
    /// a socket returns false. A poll loop may spin on it briefly before it blocks.
    /// </summary>
    bool DataWaiting { get; }

    /// <summary>
    /// True when a blocking <see cref="Read"/> is the cheapest way to wait for data with nothing else
    /// to watch (a socket: one system call instead of a poll and a read); false where a poll loop
    /// waits better (shared memory, which spins first).
    /// </summary>
    bool WaitsByReading { get; }

    /// <summary>Reads at least one byte, blocking; returns 0 at end of stream.</summary>
    int Read(Span<byte> buffer);

    /// <summary>
    /// Reads what is there without blocking: the count read, 0 at the end of the stream, or -1 when
    /// nothing is there yet (a wake-up is then asked for, as <see cref="ArmWakeUp"/> does).
    /// </summary>
    int TryRead(Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/>, blocking.</summary>
    void Write(ReadOnlySpan<byte> data);
}
