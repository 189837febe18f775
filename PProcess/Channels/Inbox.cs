using System.Buffers;
using System.Diagnostics;
using PProcess.Serialization;
using PProcess.Transports;

namespace PProcess.Channels;

/// <summary>
/// The bytes a channel has read and not yet decoded, and the frame they are assembling. A frame is
/// decoded only once all of it is here, so a message is received without blocking once
/// <see cref="HasFrame"/> says so, and the readiness loop can assemble a frame from non-blocking
/// reads while it keeps watching deadlines and other channels (docs/channels.md, "Limits").
/// Memory grows with the bytes that arrive, never with what a header claims: a small frame is
/// assembled in a 16 KiB buffer (several at once, from one read), a larger one in segments, each at
/// most as large as what has arrived so far and at most <see cref="MaxSegment"/>, so a frame holds
/// at most its received bytes plus <see cref="MaxSegment"/>.
/// </summary>
internal sealed class Inbox
{
    /// <summary>The buffer of small frames: a message of this size or less costs one read.</summary>
    private const int BufferSize = 16 * 1024;

    /// <summary>The first segment of a large frame, and the least a further one holds.</summary>
    private const int MinSegment = 64 * 1024;

    /// <summary>The largest segment: the most a frame's memory runs ahead of its bytes.</summary>
    internal const int MaxSegment = 64 << 20;

    /// <summary>Segments up to this size come from the shared array pool; larger ones are allocated.</summary>
    private const int PooledSegment = 1 << 20;

    /// <summary>The most one <see cref="Fill"/> reads before it returns, so that a fast peer streaming a large frame does not hold the loop.</summary>
    private const long FillBudget = 8 << 20;

    private readonly long maxPayload;
    private readonly long maxError;
    private byte[] buffer = [];
    private int start;
    private int end;

    /// <summary>The header of the frame being assembled has been read and checked.</summary>
    private bool headed;
    private FrameKind kind;
    private byte format;
    private long length;

    /// <summary>A large frame's payload: segments filled in order, and how much of it has arrived.</summary>
    private readonly List<byte[]> segments = [];
    private long stored;

    /// <param name="maxPayload">The largest payload accepted (<see cref="ChannelOptions.MaxMessageSize"/>).</param>
    /// <param name="maxError">The largest payload of an error frame.</param>
    internal Inbox(long maxPayload, long maxError)
    {
        this.maxPayload = maxPayload;
        this.maxError = Math.Min(maxError, maxPayload);
    }

    /// <summary>A whole frame is here.</summary>
    internal bool HasFrame => headed && (segments.Count > 0 ? stored == length : end - start >= Frame.HeaderSize + length);

    /// <summary>Nothing of a frame has arrived.</summary>
    internal bool IsEmpty => end == start && !headed;

    /// <summary>The header did not parse, or claimed too much: what is wrong with it; the stream is out of step.</summary>
    internal string? Problem { get; private set; }

    /// <summary>When bytes of an unfinished frame last arrived (<see cref="Stopwatch"/> ticks), or 0 when no frame is unfinished.</summary>
    internal long PartialSince { get; private set; }

    internal FrameKind Kind => kind;

    internal byte Format => format;

    internal long Length => length;

    /// <summary>What has arrived of an unfinished frame, for a message: the header's bytes, or the payload's.</summary>
    internal string Describe() => headed
        ? $"the payload was cut off after {(segments.Count > 0 ? stored : end - start - Frame.HeaderSize)} of {length} bytes"
        : $"the frame header was cut off after {end - start} of {Frame.HeaderSize} bytes";

    /// <summary>
    /// Reads from <paramref name="transport"/> until a frame is whole, the stream ends, or (without
    /// <paramref name="wait"/>) nothing more is there. Returns false at the end of the stream.
    /// </summary>
    internal bool Fill(IChannelTransport transport, bool wait)
    {
        long budget = FillBudget;
        while (Problem is null && !HasFrame)
        {
            if (!wait && budget <= 0)
            {
                return true;
            }
            var target = Space();
            int n = wait ? transport.Read(target) : transport.TryRead(target);
            if (n == 0)
            {
                return false;
            }
            if (n < 0)
            {
                return true;
            }
            Arrived(n);
            budget -= n;
        }
        return true;
    }

    /// <summary>Where the next read goes: the buffer's free space, or the current segment's up to the frame's end.</summary>
    private Span<byte> Space()
    {
        if (segments.Count > 0)
        {
            var last = segments[^1];
            long inLast = stored - Filled(segments.Count - 1);
            if (inLast == last.Length)
            {
                // The next segment: as large as what has arrived, within bounds, and not past the frame's end.
                long size = Math.Min(length - stored, Math.Clamp(stored, MinSegment, MaxSegment));
                last = Rent((int)size);
                segments.Add(last);
                inLast = 0;
            }
            return last.AsSpan((int)inLast, (int)Math.Min(last.Length - inLast, length - stored));
        }
        if (buffer.Length == 0)
        {
            buffer = new byte[BufferSize];
        }
        if (start > 0 && (start == end || buffer.Length - end < Frame.HeaderSize || (headed && start + Frame.HeaderSize + length > buffer.Length)))
        {
            // Make room at the end: what is left moves to the front.
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            (start, end) = (0, end - start);
        }
        return buffer.AsSpan(end);
    }

    /// <summary>Bytes of the large frame held by the segments before <paramref name="index"/>.</summary>
    private long Filled(int index)
    {
        long total = 0;
        for (int i = 0; i < index; i++)
        {
            total += segments[i].Length;
        }
        return total;
    }

    private void Arrived(int n)
    {
        if (segments.Count > 0)
        {
            stored += n;
        }
        else
        {
            end += n;
            if (!headed && end - start >= Frame.HeaderSize)
            {
                Head();
            }
        }
        PartialSince = HasFrame ? 0 : Stopwatch.GetTimestamp();
    }

    /// <summary>The header is here: checks it, and moves a frame that does not fit the buffer to segments.</summary>
    private void Head()
    {
        var header = buffer.AsSpan(start, Frame.HeaderSize);
        Problem = Frame.TryParse(header, out kind, out format, out length);
        if (Problem is not null)
        {
            return;
        }
        long limit = kind == FrameKind.Error ? maxError : maxPayload;
        if (length > limit)
        {
            Problem = $"a{(kind == FrameKind.Error ? "n error" : "")} frame announces {length} bytes, more than the {limit} bytes a message may have " +
                "(ChannelOptions.MaxMessageSize)";
            return;
        }
        headed = true;
        if (Frame.HeaderSize + length <= buffer.Length)
        {
            return;
        }
        // A large frame: its payload so far goes to a first segment; the buffer is then empty (reads
        // into segments stop at the frame's end, so nothing of the next frame is there).
        int have = end - start - Frame.HeaderSize;
        var first = Rent((int)Math.Min(length, Math.Max(MinSegment, have)));
        buffer.AsSpan(start + Frame.HeaderSize, have).CopyTo(first);
        segments.Add(first);
        stored = have;
        (start, end) = (0, 0);
    }

    private static byte[] Rent(int size)
    {
        if (size <= PooledSegment)
        {
            return ArrayPool<byte>.Shared.Rent(size);
        }
        var segment = GC.AllocateUninitializedArray<byte>(size);
        FreshMemory.PrepareForFill(ref segment[0], size);
        return segment;
    }

    /// <summary>The inbox's one reader, reset for each frame.</summary>
    private readonly PayloadReader reader = new();

    /// <summary>A reader over the whole frame's payload (the same object each time); the frame is gone after <see cref="Consumed"/>.</summary>
    internal PayloadReader Payload() =>
        segments.Count > 0 ? reader.Over(segments, length) : reader.Over(buffer, start + Frame.HeaderSize, length);

    /// <summary>The frame has been decoded: its bytes go, and the next frame's header is read if it is here.</summary>
    internal void Consumed()
    {
        if (segments.Count > 0)
        {
            foreach (var segment in segments)
            {
                if (segment.Length <= PooledSegment)
                {
                    ArrayPool<byte>.Shared.Return(segment);
                }
            }
            segments.Clear();
            stored = 0;
        }
        else
        {
            start += (int)(Frame.HeaderSize + length);
        }
        headed = false;
        length = 0;
        if (start == end)
        {
            (start, end) = (0, 0);
        }
        else if (end - start >= Frame.HeaderSize)
        {
            Head();
        }
        PartialSince = IsEmpty || HasFrame ? 0 : Stopwatch.GetTimestamp();
    }

    /// <summary>Reads a whole frame's payload from memory, refusing to run past its end.</summary>
    internal sealed class PayloadReader : IPayloadReader
    {
        private List<byte[]>? segments;
        private byte[]? buffer;
        private int segment;
        private int offset;

        internal PayloadReader Over(List<byte[]> frameSegments, long length)
        {
            (segments, buffer, segment, offset, Remaining, Total) = (frameSegments, null, 0, 0, length, length);
            return this;
        }

        internal PayloadReader Over(byte[] frameBuffer, int payloadOffset, long length)
        {
            (segments, buffer, segment, offset, Remaining, Total) = (null, frameBuffer, 0, payloadOffset, length, length);
            return this;
        }

        internal long Total { get; private set; }

        internal long Remaining { get; private set; }

        public void ReadExactly(Span<byte> target)
        {
            if (target.Length > Remaining)
            {
                throw new ChannelProtocolException($"The serializer read past the end of a {Total}-byte payload.");
            }
            Remaining -= target.Length;
            if (buffer is not null)
            {
                buffer.AsSpan(offset, target.Length).CopyTo(target);
                offset += target.Length;
                return;
            }
            while (!target.IsEmpty)
            {
                var from = segments![segment];
                int n = Math.Min(target.Length, from.Length - offset);
                from.AsSpan(offset, n).CopyTo(target);
                target = target[n..];
                offset += n;
                if (offset == from.Length)
                {
                    (segment, offset) = (segment + 1, 0);
                }
            }
        }
    }
}
