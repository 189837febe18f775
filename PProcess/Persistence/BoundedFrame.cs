using PProcess.Channels;
using PProcess.Native;
using PProcess.Serialization;

namespace PProcess.Persistence;

/// <summary>What a <see cref="BoundedFrame"/> has after a read.</summary>
internal enum BoundedFrameState
{
    /// <summary>Part of the frame, or nothing yet: more may come.</summary>
    Partial,
    /// <summary>The whole frame.</summary>
    Whole,
    /// <summary>Nothing usable will come: the stream ended or failed, or the header does not parse or announces too much.</summary>
    Refused,
}

/// <summary>
/// One short frame (a collector's hello or confirmation) from a peer that is not trusted to send
/// it whole or in time: bytes are taken as they arrive, by reads that never block, into a buffer of
/// a fixed size, and never past the frame's end; a header that does not parse, or that announces a
/// payload above <see cref="MaxPayload"/>, refuses the peer before anything is allocated for it. So
/// a peer that stops halfway holds nothing but its own connection (docs/persistence.md).
/// </summary>
internal sealed unsafe class BoundedFrame(int fd)
{
    /// <summary>The largest payload accepted: a hello is a long (9 bytes with its format), a confirmation less.</summary>
    internal const int MaxPayload = 64;

    private readonly byte[] bytes = new byte[Frame.HeaderSize + MaxPayload];
    private int have;
    private long length = -1;
    private BoundedFrameState state;

    /// <summary>The frame's kind, once its header is in.</summary>
    internal FrameKind Kind { get; private set; }

    /// <summary>The payload's format, once its header is in.</summary>
    internal byte Format { get; private set; }

    /// <summary>Takes whatever has arrived, without blocking.</summary>
    internal BoundedFrameState Read()
    {
        while (state == BoundedFrameState.Partial)
        {
            int want = length < 0 ? Frame.HeaderSize - have : (int)(Frame.HeaderSize + length - have);
            if (want == 0)
            {
                state = BoundedFrameState.Whole;
                break;
            }
            long n;
            fixed (byte* p = bytes)
            {
                n = LibC.Receive(fd, p + have, (nuint)want, LibC.MSG_DONTWAIT);
            }
            if (n < 0 && LibC.LastError == Errno.EAGAIN)
            {
                break;
            }
            if (n <= 0)
            {
                state = BoundedFrameState.Refused;
                break;
            }
            have += (int)n;
            if (length < 0 && have == Frame.HeaderSize)
            {
                bool parsed = Frame.TryParse(bytes, out var kind, out var format, out long announced) is null;
                (Kind, Format) = (kind, format);
                if (!parsed || announced > MaxPayload)
                {
                    state = BoundedFrameState.Refused;
                    break;
                }
                length = announced;
            }
        }
        return state;
    }

    /// <summary>Reads until the whole frame is in or <paramref name="deadline"/> passes; true when it is in.</summary>
    internal bool ReadWithin(Deadline deadline)
    {
        Span<PollFd> poll = [PollFd.ForInput(fd)];
        while (Read() == BoundedFrameState.Partial)
        {
            if (LibC.Poll(poll, deadline) == 0)
            {
                return false;
            }
        }
        return state == BoundedFrameState.Whole;
    }

    /// <summary>The whole frame's value, decoded by <paramref name="serializer"/>.</summary>
    internal object? Decode(IChannelSerializer serializer) =>
        serializer.Deserialize(Format, length, new PayloadReader(bytes.AsMemory(Frame.HeaderSize, (int)length)));

    /// <summary>The payload's bytes as the serializer reads them, refusing to run past their end.</summary>
    private sealed class PayloadReader(Memory<byte> payload) : IPayloadReader
    {
        public void ReadExactly(Span<byte> buffer)
        {
            if (buffer.Length > payload.Length)
            {
                throw new ChannelProtocolException($"The serializer read past the end of a {payload.Length}-byte payload.");
            }
            payload.Span[..buffer.Length].CopyTo(buffer);
            payload = payload[buffer.Length..];
        }
    }
}
