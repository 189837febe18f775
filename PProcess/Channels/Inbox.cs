using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// A large byte array or array of plain unmanaged values is received straight into its final array
/// instead (<see cref="IArrayDestinations"/>), so that most of its bytes are copied once rather than
/// twice (into segments, then into the array): the array is allocated once its type is here and the
/// bytes that have arrived are at least an eighth of its size less 1 MiB (<see cref="DirectFactor"/>,
/// <see cref="DirectSlack"/>), what the segments hold moves into it, and the rest is read straight
/// into it. Its memory is not touched before bytes arrive for it. The arrays being so received at
/// once, in the whole process, hold at most <see cref="DirectBudget"/> bytes (others stay in
/// segments), so that forged headers cannot reserve more address space than that.
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

    /// <summary>The most bytes that arrays being received straight into, in this process, may announce together.</summary>
    internal const long DirectBudget = 4L << 30;

    /// <summary>A large array's frame is received straight into its array once it has sent an eighth of its bytes (less <see cref="DirectSlack"/>).</summary>
    internal const long DirectFactor = 8;

    /// <summary>Frames of up to this size are received straight into their arrays as soon as their type is here.</summary>
    internal const long DirectSlack = 1 << 20;

    /// <summary>The most one read asks for at once.</summary>
    private const int MaxRead = 1 << 30;

    /// <summary>The bytes announced by the frames being received straight into their arrays, in the process <see cref="budgetPid"/>.</summary>
    private static long directReserved;

    /// <summary>
    /// The process <see cref="directReserved"/> counts for: a forked child inherits its parent's count,
    /// for frames that only the parent receives, and starts its own.
    /// </summary>
    private static int budgetPid = Runtime.ProcessIdentity.Current;

    /// <summary>For tests: the bytes <see cref="DirectBudget"/> has lent out in this process.</summary>
    internal static long DirectReserved =>
        Volatile.Read(ref budgetPid) == Runtime.ProcessIdentity.Current ? Volatile.Read(ref directReserved) : 0;

    /// <summary>Takes <paramref name="bytes"/> of <see cref="DirectBudget"/>, or returns false. No lock: a child may inherit one held.</summary>
    private static bool Reserve(long bytes)
    {
        int me = Runtime.ProcessIdentity.Current;
        int owner = Volatile.Read(ref budgetPid);
        if (owner != me && Interlocked.CompareExchange(ref budgetPid, me, owner) == owner)
        {
            // The first large receive of a forked child: its parent's frames are not its own.
            Volatile.Write(ref directReserved, 0);
        }
        if (Interlocked.Add(ref directReserved, bytes) > DirectBudget)
        {
            Interlocked.Add(ref directReserved, -bytes);
            return false;
        }
        return true;
    }

    /// <summary>Gives back <paramref name="bytes"/> reserved in process <paramref name="pid"/> (nothing, if that was a parent).</summary>
    private static void GiveBack(long bytes, int pid)
    {
        if (Volatile.Read(ref budgetPid) == pid)
        {
            Interlocked.Add(ref directReserved, -bytes);
        }
    }

    private readonly long maxPayload;
    private readonly long maxError;
    private readonly IArrayDestinations? destinations;
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

    /// <summary>A large array's frame received straight into it: the array, and the payload's bytes before its memory (its type name).</summary>
    private Array? destination;
    private byte[] prefix = [];

    /// <summary>The bytes of <see cref="DirectBudget"/> this inbox holds (its frame's length), or 0.</summary>
    private long reserved;

    /// <summary>The process that reserved <see cref="reserved"/>.</summary>
    private int reservedBy;

    /// <summary>How many of the payload's bytes the serializer needs before it can name the frame's array; past <see cref="long.MaxValue"/>: none (it said no).</summary>
    private long directNeeds;

    /// <param name="maxPayload">The largest payload accepted (<see cref="ChannelOptions.MaxMessageSize"/>).</param>
    /// <param name="maxError">The largest payload of an error frame.</param>
    /// <param name="destinations">The channel's serializer, if it names the arrays that large payloads are received into.</param>
    internal Inbox(long maxPayload, long maxError, IArrayDestinations? destinations = null)
    {
        this.maxPayload = maxPayload;
        this.maxError = Math.Min(maxError, maxPayload);
        this.destinations = destinations;
    }

    /// <summary>The frame being assembled is large: in segments, or straight into its array.</summary>
    private bool Large => destination is not null || segments.Count > 0;

    /// <summary>A whole frame is here.</summary>
    internal bool HasFrame => headed && (Large ? stored == length : end - start >= Frame.HeaderSize + length);

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
        ? $"the payload was cut off after {(Large ? stored : end - start - Frame.HeaderSize)} of {length} bytes"
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
        if (destination is not null)
        {
            ref byte data = ref MemoryMarshal.GetArrayDataReference(destination);
            return MemoryMarshal.CreateSpan(ref Unsafe.Add(ref data, (nint)(stored - prefix.Length)), (int)Math.Min(MaxRead, length - stored));
        }
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
        if (Large)
        {
            stored += n;
            if (destination is null)
            {
                TryDirect();
            }
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
        // A large frame: its payload so far goes to its array or a first segment; the buffer is then
        // empty (reads stop at the frame's end, so nothing of the next frame is there).
        int have = end - start - Frame.HeaderSize;
        var first = Rent((int)Math.Min(length, Math.Max(MinSegment, have)));
        buffer.AsSpan(start + Frame.HeaderSize, have).CopyTo(first);
        segments.Add(first);
        stored = have;
        (start, end) = (0, 0);
        directNeeds = kind == FrameKind.Value && destinations is not null ? 0 : long.MaxValue;
        TryDirect();
    }

    /// <summary>
    /// Moves a large frame from its segments to its array, if the serializer names one from the
    /// payload's first bytes, the bytes that have arrived are enough (<see cref="DirectFactor"/>), and
    /// the budget allows. What the segments hold after the array's prefix (its type name) is copied in.
    /// </summary>
    private void TryDirect()
    {
        if (stored < directNeeds || length > DirectFactor * stored + DirectSlack)
        {
            return;
        }
        var first = segments[0];
        var start = first.AsSpan(0, (int)Math.Min(stored, first.Length));
        if (!Reserve(length))
        {
            directNeeds = long.MaxValue;
            return;
        }
        Array? array;
        int prefixLength;
        try
        {
            array = destinations!.Destination(format, length, start, out prefixLength);
        }
        catch (Exception)
        {
            // The serializer promises not to throw for what a peer wrote; if one does, the frame
            // stays in segments and its decode reports what is wrong.
            (array, prefixLength) = (null, 0);
        }
        if (array is null)
        {
            GiveBack(length, Runtime.ProcessIdentity.Current);
            // Not enough of the payload for the serializer yet (it says how much it needs; the first
            // segment holds at least that much), or not an array it receives so.
            directNeeds = prefixLength > start.Length && prefixLength <= first.Length ? prefixLength : long.MaxValue;
            return;
        }
        (destination, reserved, reservedBy, prefix) = (array, length, Runtime.ProcessIdentity.Current, start[..prefixLength].ToArray());
        ref byte data = ref MemoryMarshal.GetArrayDataReference(array);
        FreshMemory.PrepareForFill(ref data, length - prefixLength);
        long at = 0;
        foreach (var segment in segments)
        {
            var part = segment.AsSpan(0, (int)Math.Min(segment.Length, stored - at));
            int skip = (int)Math.Clamp(prefixLength - at, 0, part.Length);
            part[skip..].CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref data, (nint)(at + skip - prefixLength)), part.Length - skip));
            at += part.Length;
            if (segment.Length <= PooledSegment)
            {
                ArrayPool<byte>.Shared.Return(segment);
            }
        }
        segments.Clear();
    }

    /// <summary>Lets go of a frame's array and gives its bytes back to <see cref="DirectBudget"/>.</summary>
    private void DropDestination()
    {
        (destination, prefix, stored) = (null, [], 0);
        Release();
    }

    /// <summary>
    /// The channel is closed: a frame cut off gives its bytes back to <see cref="DirectBudget"/>. Its
    /// memory goes with the inbox (another thread may still be inside a read that closing interrupts).
    /// </summary>
    internal void Release()
    {
        if (Interlocked.Exchange(ref reserved, 0) is > 0 and var bytes)
        {
            GiveBack(bytes, reservedBy);
        }
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
        destination is not null ? reader.Over(prefix, destination, length)
        : segments.Count > 0 ? reader.Over(segments, length) : reader.Over(buffer, start + Frame.HeaderSize, length);

    /// <summary>The frame has been decoded: its bytes go, and the next frame's header is read if it is here.</summary>
    internal void Consumed()
    {
        if (destination is not null)
        {
            DropDestination();
        }
        else if (segments.Count > 0)
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
    internal sealed class PayloadReader : IPayloadReader, IPreparedArrayReader
    {
        private List<byte[]>? segments;
        private byte[]? buffer;
        private int segment;
        private int offset;
        /// <summary>A large array's frame: the array holding the payload after <see cref="buffer"/> (its prefix), and how much of it has been read.</summary>
        private Array? array;
        private long arrayRead;

        internal PayloadReader Over(List<byte[]> frameSegments, long length)
        {
            (segments, buffer, array, segment, offset, Remaining, Total) = (frameSegments, null, null, 0, 0, length, length);
            return this;
        }

        internal PayloadReader Over(byte[] frameBuffer, int payloadOffset, long length)
        {
            (segments, buffer, array, segment, offset, Remaining, Total) = (null, frameBuffer, null, 0, payloadOffset, length, length);
            return this;
        }

        internal PayloadReader Over(byte[] prefix, Array destination, long length)
        {
            (segments, buffer, array, arrayRead, segment, offset, Remaining, Total) = (null, prefix, destination, 0, 0, 0, length, length);
            return this;
        }

        internal long Total { get; private set; }

        internal long Remaining { get; private set; }

        public Array? TakeArray(Type elementType, long byteLength)
        {
            if (array is null || arrayRead != 0 || offset != buffer!.Length || byteLength != Remaining
                || array.GetType().GetElementType() != elementType)
            {
                return null;
            }
            var taken = array;
            (array, buffer, Remaining) = (null, null, 0);
            return taken;
        }

        public void ReadExactly(Span<byte> target)
        {
            if (target.Length > Remaining)
            {
                throw new ChannelProtocolException($"The serializer read past the end of a {Total}-byte payload.");
            }
            Remaining -= target.Length;
            if (array is not null)
            {
                // The prefix first, then the array's memory.
                int fromPrefix = Math.Min(target.Length, buffer!.Length - offset);
                buffer.AsSpan(offset, fromPrefix).CopyTo(target);
                offset += fromPrefix;
                target = target[fromPrefix..];
                ref byte data = ref MemoryMarshal.GetArrayDataReference(array);
                MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref data, (nint)arrayRead), target.Length).CopyTo(target);
                arrayRead += target.Length;
                return;
            }
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
