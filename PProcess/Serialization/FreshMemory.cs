using System.Runtime.CompilerServices;

namespace PProcess.Serialization;

/// <summary>
/// Advice for the memory of a large new array or string about to be filled with a received value:
/// fresh memory is faulted in page by page as it is first written, and with 4 KiB pages that costs
/// more than the copy itself (docs/performance.md, "Page faults").
/// </summary>
internal static class FreshMemory
{
    /// <summary>Values from this size on are received into transparent huge pages where the kernel allows.</summary>
    internal const long HugePageThreshold = 8 << 20;

    /// <summary>
    /// Drops the pages of the 2 MiB-aligned inside of <paramref name="byteLength"/> bytes from
    /// <paramref name="start"/> and asks for transparent huge pages there. Their contents are lost:
    /// call it only on memory about to be overwritten whole. Only advice: ignored where THP is off.
    /// </summary>
    internal static unsafe void PrepareForFill(ref byte start, long byteLength)
    {
        if (byteLength < HugePageThreshold)
        {
            return;
        }
        const long huge = 2 << 20;
        long address = (long)Unsafe.AsPointer(ref start);
        long from = (address + huge - 1) & ~(huge - 1);
        long to = (address + byteLength) & ~(huge - 1);
        if (to > from)
        {
            // A large object is not moved (the large object heap is not compacted unless asked), and
            // the advice is about the address range, not the object: a move would only waste it.
            // MADV_DONTNEED first: memory the heap reuses may be shared copy-on-write with a child
            // forked since, and each write would copy a page; dropped, it comes back as fresh zero
            // pages, which is what a new array holds anyway (docs/performance.md, "Page faults").
            Native.LibC.Advise((nint)from, (nuint)(to - from), Native.LibC.MADV_DONTNEED);
            Native.LibC.Advise((nint)from, (nuint)(to - from), Native.LibC.MADV_HUGEPAGE);
        }
    }
}
