namespace PProcess.Transports;

/// <summary>What a probe of a transport found, without consuming anything.</summary>
internal enum ProbeResult
{
    /// <summary>Nothing to read yet; the peer is still there.</summary>
    Empty,
    /// <summary>At least one byte can be read.</summary>
    Data,
    /// <summary>The peer closed its end and everything it sent has been read.</summary>
    EndOfStream,
}

/// <summary>
/// A byte stream between the two ends of a channel, with descriptors that poll can watch.
/// The channel frames messages on top of it.
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

    /// <summary>Reads at least one byte, blocking; returns 0 at end of stream.</summary>
    int Read(Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/>, blocking.</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Says whether a read would return data, end of stream, or block.</summary>
    ProbeResult Probe();

    /// <summary>
    /// Blocks until data or the end of the stream can be read, and says which; null where the
    /// transport can only be waited for with poll (shared memory). A poll loop with one channel and
    /// nothing else to watch waits so: one system call instead of a poll and a probe.
    /// </summary>
    ProbeResult? WaitForData();
}
