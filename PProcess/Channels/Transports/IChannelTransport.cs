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
/// A byte stream between the two ends of a channel, with a descriptor that poll can watch.
/// The channel frames messages on top of it.
/// </summary>
internal interface IChannelTransport : IDisposable
{
    /// <summary>The descriptor poll watches for POLLIN / POLLHUP.</summary>
    int PollDescriptor { get; }

    /// <summary>Reads at least one byte, blocking; returns 0 at end of stream.</summary>
    int Read(Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/>, blocking.</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Says whether a read would return data, end of stream, or block.</summary>
    ProbeResult Probe();
}
