namespace PProcess;

/// <summary>
/// How much of its parent's memory a child no longer shares, as measured when it was replaced,
/// ended, or was asked (docs/performance.md, "Copy-on-write that holds"). A forked child shares
/// its parent's pages until one of them writes a page; what the child has written is private to
/// it: its own objects, and the pages of the parent's heap it copied.
/// </summary>
/// <param name="Pid">The child's process id.</param>
/// <param name="PrivateBytes">Its private written memory: Private_Dirty of /proc/PID/smaps_rollup.</param>
/// <param name="InheritedHeapBytes">The managed heap in use that it inherited (the parent's at the fork).</param>
/// <param name="OwnHeapPeakBytes">
/// The most its own objects took: the largest growth of its managed heap in use over
/// <paramref name="InheritedHeapBytes"/>, sampled after each chunk or job.
/// </param>
/// <param name="FullCollections">Full (generation 2) collections it ran: each one copies the inherited heap.</param>
/// <param name="Replaced">True when it was replaced by a fresh fork to keep the parent's heap shared.</param>
public readonly record struct ChildMemory(int Pid, long PrivateBytes, long InheritedHeapBytes, long OwnHeapPeakBytes, int FullCollections, bool Replaced)
{
    /// <summary>
    /// Its private memory beyond the most its own objects took (at least 0): the pages of the
    /// parent it copied, plus its runtime's own (stacks, compiled code, about 2 MB) and memory its
    /// collections freed and have not returned. An upper bound of what it copied.
    /// </summary>
    public long UnsharedBytes => Math.Max(0, PrivateBytes - OwnHeapPeakBytes);
}
