using PProcess.Native;

namespace PProcess.Runtime;

/// <summary>
/// A page of shared memory with one slot per kept child (a map's, a pool's), made before the
/// first fork: after each chunk or job the child writes there what its heap holds and whether it
/// asks to be replaced (<see cref="HeapSharing.Sample"/>); the parent reads it when the results
/// arrive. Plain stores, as in <see cref="Mapping.ProgressBoard"/>: the child writes its slot
/// before it sends its results, and the parent reads it after receiving them.
/// </summary>
internal sealed class ChildMemoryBoard : IDisposable
{
    /// <summary>A cache line per slot.</summary>
    private const int SlotBytes = 64;

    private readonly SafeMapping mapping;

    internal ChildMemoryBoard(int slots)
    {
        nuint length = (nuint)(((long)slots * SlotBytes + 4095) & ~4095L);
        if (SafeMapping.Create(length) is not { } created)
        {
            int errno = LibC.LastError;
            throw new ForkException($"mmap of the children's memory board failed: {Errno.Name(errno)}{Errno.ShortageHint(errno)}", errno);
        }
        mapping = created;
        Slots = slots;
    }

    internal int Slots { get; }

    internal unsafe ChildMemorySlot this[int slot] =>
        (uint)slot < (uint)Slots ? new ChildMemorySlot((long*)(mapping.Address + slot * SlotBytes)) : throw new ArgumentOutOfRangeException(nameof(slot));

    public void Dispose() => mapping.Dispose();
}

/// <summary>One child's slot of a <see cref="ChildMemoryBoard"/>.</summary>
internal readonly unsafe struct ChildMemorySlot
{
    private readonly long* words;

    internal ChildMemorySlot(long* words) => this.words = words;

    /// <summary>The parent, before forking the slot's next child: nothing measured yet.</summary>
    internal void Clear()
    {
        for (int i = 0; i < 5; i++)
        {
            Volatile.Write(ref words[i], 0);
        }
    }

    /// <summary>The child, after a chunk or job: measures its heap, writes it here, and says whether it should be replaced.</summary>
    internal bool Publish(long? budget)
    {
        var heap = HeapSharing.Sample(budget);
        Volatile.Write(ref words[0], heap.Inherited);
        Volatile.Write(ref words[1], heap.Own);
        Volatile.Write(ref words[2], heap.OwnPeak);
        Volatile.Write(ref words[3], heap.FullCollections);
        Volatile.Write(ref words[4], heap.Retire ? 1 : 0);
        return heap.Retire;
    }

    /// <summary>What the child last wrote.</summary>
    internal ChildHeap Read() => new(
        Volatile.Read(ref words[0]), Volatile.Read(ref words[1]), Volatile.Read(ref words[2]), (int)Volatile.Read(ref words[3]),
        Volatile.Read(ref words[4]) != 0);
}
