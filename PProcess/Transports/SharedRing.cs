namespace PProcess.Transports;

/// <summary>
/// One direction of a shared-memory channel: a single-producer single-consumer byte ring in
/// memory that both processes map. <c>Head</c> (bytes ever written) belongs to the producer and
/// <c>Tail</c> (bytes ever read) to the consumer, each on its own cache line; the capacity is a
/// power of two. The two flags say that the consumer (or producer) is about to block and wants
/// an eventfd wake-up: a side sets its flag with a full fence and then re-checks the ring, the
/// other side publishes with a full fence and then reads the flag, so one of them always sees the
/// other (no lost wake-up).
/// </summary>
internal readonly unsafe struct SharedRing
{
    /// <summary>Bytes of header before the data: five cache lines.</summary>
    internal const int HeaderSize = 5 * 64;

    private readonly byte* header;
    private readonly byte* data;
    private readonly long mask;

    internal SharedRing(byte* start, long capacity)
    {
        header = start;
        data = start + HeaderSize;
        Capacity = capacity;
        mask = capacity - 1;
    }

    internal long Capacity { get; }

    /// <summary>Bytes written so far; only the producer stores it.</summary>
    internal ref long Head => ref *(long*)header;

    /// <summary>Bytes read so far; only the consumer stores it.</summary>
    internal ref long Tail => ref *(long*)(header + 64);

    /// <summary>1 while the consumer waits (or may soon wait) for data.</summary>
    internal ref int ReaderWaiting => ref *(int*)(header + 128);

    /// <summary>1 while the producer waits for space.</summary>
    internal ref int WriterWaiting => ref *(int*)(header + 192);

    /// <summary>1 once the consumer has closed its end: writing more is an error, as EPIPE is on a socket.</summary>
    internal ref int ReaderClosed => ref *(int*)(header + 256);

    /// <summary>Copies <paramref name="source"/> in at ring position <paramref name="position"/>, wrapping.</summary>
    internal void CopyIn(long position, ReadOnlySpan<byte> source)
    {
        long at = position & mask;
        int first = (int)Math.Min(source.Length, Capacity - at);
        source[..first].CopyTo(new Span<byte>(data + at, first));
        if (first < source.Length)
        {
            source[first..].CopyTo(new Span<byte>(data, source.Length - first));
        }
    }

    /// <summary>Copies out to <paramref name="target"/> from ring position <paramref name="position"/>, wrapping.</summary>
    internal void CopyOut(long position, Span<byte> target)
    {
        long at = position & mask;
        int first = (int)Math.Min(target.Length, Capacity - at);
        new ReadOnlySpan<byte>(data + at, first).CopyTo(target);
        if (first < target.Length)
        {
            new ReadOnlySpan<byte>(data, target.Length - first).CopyTo(target[first..]);
        }
    }
}
