using System.Diagnostics;
using PProcess.Native;

namespace PProcess.Mapping;

/// <summary>
/// A page of shared memory (one per map, made before its first fork) with one slot per child: the
/// child writes there which element of its chunk it is computing, since when, and how long the
/// chunk took; the parent reads it to time each element out, to name the element a dead or killed
/// child was on (its results never arrive), and to size the next chunks. Plain stores to memory
/// cost nanoseconds, where a message per element would cost microseconds. The child writes its
/// slot only between receiving a chunk and sending its results; the parent writes it only while
/// the child has no chunk, so the two never write at once.
/// </summary>
internal sealed class ProgressBoard : IDisposable
{
    /// <summary>A cache line per slot, so that children on different cores do not share one.</summary>
    private const int SlotBytes = 64;

    private readonly SafeMapping mapping;

    internal ProgressBoard(int slots)
    {
        nuint length = (nuint)(((long)slots * SlotBytes + 4095) & ~4095L);
        if (SafeMapping.Create(length) is not { } created)
        {
            int errno = LibC.LastError;
            throw new ForkException($"mmap of PMap's progress board failed: {Errno.Name(errno)}{Errno.ShortageHint(errno)}", errno);
        }
        mapping = created;
        Slots = slots;
    }

    internal int Slots { get; }

    internal unsafe ProgressSlot this[int slot] =>
        (uint)slot < (uint)Slots ? new ProgressSlot((long*)(mapping.Address + slot * SlotBytes)) : throw new ArgumentOutOfRangeException(nameof(slot));

    public void Dispose() => mapping.Dispose();
}

/// <summary>What a child is doing with its chunk, in its <see cref="ProgressSlot"/>.</summary>
internal enum ChunkPhase : long
{
    /// <summary>The parent handed the chunk over; the child has not started its first element (it may be reading the chunk).</summary>
    Assigned = 0,

    /// <summary>Computing the element at <see cref="ProgressSlot.Position"/>.</summary>
    Computing = 1,

    /// <summary>Every element was computed (or one failed); sending the results.</summary>
    Sending = 2,

    /// <summary>The child could not decode the chunk's elements, and says so with an error after empty results.</summary>
    Unreadable = 3,
}

/// <summary>One child's slot of a <see cref="ProgressBoard"/>: five words, read and written whole.</summary>
internal readonly unsafe struct ProgressSlot
{
    private readonly long* words;

    internal ProgressSlot(long* words) => this.words = words;

    internal ChunkPhase Phase
    {
        get => (ChunkPhase)Volatile.Read(ref words[0]);
        set => Volatile.Write(ref words[0], (long)value);
    }

    /// <summary>The index, in its chunk, of the element being computed.</summary>
    internal long Position
    {
        get => Volatile.Read(ref words[1]);
        set => Volatile.Write(ref words[1], value);
    }

    /// <summary>When the current element began (<see cref="Stopwatch"/> ticks, the same clock in every process); written before <see cref="Position"/>.</summary>
    internal long Started
    {
        get => Volatile.Read(ref words[2]);
        set => Volatile.Write(ref words[2], value);
    }

    /// <summary>How long the last chunk's elements took to compute, in <see cref="Stopwatch"/> ticks.</summary>
    internal long Elapsed
    {
        get => Volatile.Read(ref words[3]);
        set => Volatile.Write(ref words[3], value);
    }

    /// <summary>The parent, before handing a chunk over: assigned, nothing computed, the clock started now.</summary>
    internal void Assign()
    {
        Phase = ChunkPhase.Assigned;
        Position = -1;
        Elapsed = 0;
        Started = Stopwatch.GetTimestamp();
    }
}
