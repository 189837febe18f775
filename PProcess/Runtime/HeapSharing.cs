using System.Diagnostics;
using System.Runtime;
using PProcess.Native;

namespace PProcess.Runtime;

/// <summary>
/// Keeps a parent's heap shared with its children (copy-on-write) while they live
/// (docs/performance.md, "Copy-on-write that holds"). A child shares the parent's pages until it
/// writes one; a collection writes every object it marks (the mark bit is in the object's header)
/// and compacting moves them, so a child's full collection copies the whole inherited heap, and
/// its young-generation collections copy the parent's young objects. Measured on a 355 MB
/// parent: 112-194 MB per child before any full collection, 750 MB after one. Three measures:
/// <list type="bullet">
/// <item>In the parent, before a fork (<see cref="BeforeFork"/>): young objects are made old (two
/// generation-1 collections), so that a child's young collections, which touch only young objects
/// and what the card table points at, leave them alone; and when the garbage collector says a
/// full collection of the parent approaches (its generation-2 or large-object budget is below
/// <see cref="ParentThreshold"/> %), the parent runs it now, once, instead of each child later:
/// the children then start with a full budget.</item>
/// <item>In a child (<see cref="EnterChild"/>): a thread waits for the garbage collector's
/// notification that a full collection approaches (less than <see cref="ChildThreshold"/> % of the
/// budget left, <see cref="GC.RegisterForFullGCNotification"/>, available with the
/// non-concurrent collector the library requires), and then switches the child to
/// <see cref="GCLatencyMode.LowLatency"/>, in which the collector runs no full collection it was
/// not asked for; the child asks to be replaced (<see cref="Sample"/>), and a map or pool
/// replaces it by a fresh fork after its current chunk or job. Low latency makes every young
/// collection's budget 256 KB (measured), so the guard is let go once the pauses it has cost pass
/// what the full collection would cost (<see cref="GuardAllowance"/>).</item>
/// <item>Measured, per child: <see cref="Sample"/> (the child's own heap) and
/// <see cref="PrivateDirty"/> (its private memory, from /proc).</item>
/// </list>
/// </summary>
internal static unsafe class HeapSharing
{
    /// <summary>
    /// A parent whose remaining generation-2 (or large-object) budget is below this percentage runs
    /// its full collection before forking, so that every child starts with at least this much of a
    /// budget, of which it uses all but <see cref="ChildThreshold"/> before it is replaced.
    /// </summary>
    internal const int ParentThreshold = 50;

    /// <summary>
    /// A child is told that a full collection approaches when less than this percentage of its
    /// budget is left: early enough that the guard thread is switched before that collection
    /// (at 10 % a child allocating 100 KB arrays had 17 MB of allocation left, a few milliseconds).
    /// </summary>
    internal const int ChildThreshold = 20;

    /// <summary>A heap smaller than this is not worth a collection before a fork: its children copy little.</summary>
    internal const long MinHeap = 16L << 20;

    /// <summary>Young objects (allocated since the last collection, or in generations 0 and 1) below this are left young.</summary>
    internal const long MinYoung = 1L << 20;

    /// <summary>The least time in collections the guard may cost a child before it is let go.</summary>
    internal static readonly TimeSpan MinGuardAllowance = TimeSpan.FromMilliseconds(250);

    // ---- The parent ----

    private static readonly Lock gate = new();
    /// <summary>True once this process (or the parent it was forked from) asked for the full-collection notification.</summary>
    private static bool armed;
    private static int settledGen0 = -1;
    private static long settledAllocated;
    private static long settleTicks;
    private static int settles, fullCollections;

    /// <summary>Time the parent spent in collections made before forks (<see cref="BeforeFork"/>).</summary>
    internal static TimeSpan SettleTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref settleTicks));

    /// <summary>How many times a fork was preceded by collections, and how many of those were full.</summary>
    internal static (int Settles, int Full) SettleCounts => (Volatile.Read(ref settles), Volatile.Read(ref fullCollections));

    /// <summary>
    /// Before a fork that keeps the heap shared: arms the notification (once), then makes the
    /// young objects old, or runs the full collection that approaches. Does nothing when nothing
    /// was allocated since the last time, or the heap is small. Returns the heap in use, in bytes:
    /// what the child inherits.
    /// </summary>
    internal static long BeforeFork()
    {
        lock (gate)
        {
            if (!armed)
            {
                armed = true;
                GC.RegisterForFullGCNotification(ParentThreshold, ParentThreshold);
            }
            long inUse = GC.GetTotalMemory(false);
            int gen0 = GC.CollectionCount(0);
            long allocated = GC.GetTotalAllocatedBytes(false);
            // In a no-GC region (the caller's own GC.TryStartNoGCRegion) a collection would end it.
            if (inUse < MinHeap || (gen0 == settledGen0 && allocated - settledAllocated < MinYoung)
                || GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            {
                return inUse;
            }
            long began = Stopwatch.GetTimestamp();
            bool collected = true;
            if (GC.WaitForFullGCApproach(0) == GCNotificationStatus.Succeeded)
            {
                GC.Collect(2, GCCollectionMode.Forced, blocking: true);
                fullCollections++;
            }
            else if (YoungBytes(inUse) >= MinYoung)
            {
                // The first makes generation 1 old and generation 0 generation 1; the second makes
                // those old too. A collection of generation 1 whose generation-2 budget is spent is
                // made full by the collector: the one the parent's next collection would have been.
                int full = GC.CollectionCount(2);
                GC.Collect(1, GCCollectionMode.Forced, blocking: true);
                GC.Collect(1, GCCollectionMode.Forced, blocking: true);
                fullCollections += GC.CollectionCount(2) - full > 0 ? 1 : 0;
            }
            else
            {
                collected = false;
            }
            if (collected)
            {
                settles++;
                settleTicks += Stopwatch.GetTimestamp() - began;
                inUse = GC.GetTotalMemory(false);
            }
            settledGen0 = GC.CollectionCount(0);
            settledAllocated = GC.GetTotalAllocatedBytes(false);
            return inUse;
        }
    }

    /// <summary>
    /// The heap in use that is not old: what was allocated since the last collection (the large
    /// objects among it too, which need no promotion; the estimate is cheap) and what that
    /// collection left in generations 0 and 1.
    /// </summary>
    private static long YoungBytes(long inUse)
    {
        var info = GC.GetGCMemoryInfo();
        var generations = info.GenerationInfo;
        long old = 0;
        for (int g = 2; g < generations.Length; g++)
        {
            old += generations[g].SizeAfterBytes - generations[g].FragmentationAfterBytes;
        }
        return Math.Max(0, inUse - old);
    }

    // ---- The child ----

    /// <summary>The child's heap in use at its start: what it inherited.</summary>
    private static long inherited;
    /// <summary>
    /// The most the child's own heap (its heap in use beyond <see cref="inherited"/>) has held: at a
    /// <see cref="Sample"/>, or just before the last of its collections one saw.
    /// </summary>
    private static long ownPeak;
    private static int fullAtStart;
    /// <summary>The index of the last collection the child inherited: later ones are its own.</summary>
    private static long gcIndexAtStart;
    /// <summary>Set by the guard thread when the collector said a full collection approaches.</summary>
    private static volatile bool approached;
    private static long guardAllowanceTicks;

    /// <summary>
    /// In the child, before user code: records what it inherited and, when it was forked to keep
    /// the heap shared (<paramref name="guard"/>) and its parent armed the notification, starts the
    /// guard thread. False when no thread could be made (the process limit).
    /// </summary>
    internal static bool EnterChild(bool guard)
    {
        inherited = GC.GetTotalMemory(false);
        gcIndexAtStart = GC.GetGCMemoryInfo().Index;
        ownPeak = 0;
        approached = false;
        fullAtStart = GC.CollectionCount(2);
        if (!guard || !armed || inherited < MinHeap)
        {
            return true;
        }
        // The parent's threshold and its notification state are inherited: this child's own.
        GC.RegisterForFullGCNotification(ChildThreshold, ChildThreshold);
        guardAllowanceTicks = GuardAllowance().Ticks;
        return LibC.StartThread(GuardEntry, 128 * 1024, "PProcess gc") == 0;
    }

    /// <summary>
    /// How much time in collections the guard may cost before it is let go: twice the last full
    /// blocking collection this process knows of (the parent's, inherited), and at least
    /// <see cref="MinGuardAllowance"/>. A full collection copies the inherited heap once; the
    /// guard's small budgets cost a pause per 256 KB allocated, for as long as the child runs.
    /// </summary>
    private static TimeSpan GuardAllowance()
    {
        var full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        var pause = full.Index > 0 && full.PauseDurations.Length > 0 ? full.PauseDurations[0] : TimeSpan.Zero;
        return pause * 2 > MinGuardAllowance ? pause * 2 : MinGuardAllowance;
    }

    /// <summary>Taken in the parent (the class constructor runs there), so that its stub is made once.</summary>
    private static readonly nint GuardEntry = (nint)(delegate* unmanaged<nint, nint>)&Guard;

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static nint Guard(nint unused)
    {
        try
        {
            Watch();
        }
        catch (Exception)
        {
            // The guard is an optimisation: a child without it only copies more.
        }
        return 0;
    }

    /// <summary>
    /// The guard: sleeps until the collector says a full collection approaches, then keeps it away
    /// (low latency) until the child is replaced, or the guard has cost its allowance.
    /// </summary>
    private static void Watch()
    {
        if (GC.WaitForFullGCApproach(-1) != GCNotificationStatus.Succeeded || GC.CollectionCount(2) != fullAtStart)
        {
            return;
        }
        var before = GC.GetTotalPauseDuration();
        var mode = GCSettings.LatencyMode;
        if (mode == GCLatencyMode.NoGCRegion)
        {
            return;
        }
        GCSettings.LatencyMode = GCLatencyMode.LowLatency;
        approached = true;
        while ((GC.GetTotalPauseDuration() - before).Ticks < guardAllowanceTicks)
        {
            Thread.Sleep(50);
        }
        GCSettings.LatencyMode = mode;
    }

    /// <summary>
    /// The live bytes the heap held just before the last collection (each generation's size before
    /// it, less its fragmentation), when that collection came after <paramref name="sinceIndex"/>;
    /// null when none did.
    /// </summary>
    internal static long? HeapBeforeLastCollection(long sinceIndex)
    {
        var last = GC.GetGCMemoryInfo();
        if (last.Index <= sinceIndex)
        {
            return null;
        }
        long before = 0;
        foreach (var generation in last.GenerationInfo)
        {
            before += generation.SizeBeforeBytes - generation.FragmentationBeforeBytes;
        }
        return before;
    }

    /// <summary>
    /// In the child, after a chunk or a job: what its heap holds now, and whether it should be
    /// replaced: the collector said a full collection approaches, or its own heap has grown past
    /// <paramref name="budget"/> bytes.
    /// </summary>
    internal static ChildHeap Sample(long? budget)
    {
        long own = Math.Max(0, GC.GetTotalMemory(false) - inherited);
        ownPeak = Math.Max(ownPeak, own);
        // The heap peaks just before a collection: the last one's "before" sizes, when it was the child's.
        if (HeapBeforeLastCollection(gcIndexAtStart) is long before)
        {
            ownPeak = Math.Max(ownPeak, before - inherited);
        }
        bool retire = approached || own > budget;
        return new ChildHeap(inherited, own, ownPeak, GC.CollectionCount(2) - fullAtStart, retire);
    }

    /// <summary>Private_Dirty of /proc/PID/smaps_rollup, in bytes; -1 when it cannot be read (the process ended).</summary>
    internal static long PrivateDirty(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
            {
                if (line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
                {
                    var kb = line.AsSpan("Private_Dirty:".Length).Trim();
                    kb = kb[..kb.IndexOf(' ')];
                    return long.Parse(kb) * 1024;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            // Gone, or not ours to read.
        }
        return -1;
    }
}

/// <summary>A child's heap as it measured it (<see cref="HeapSharing.Sample"/>), in bytes.</summary>
internal readonly record struct ChildHeap(long Inherited, long Own, long OwnPeak, int FullCollections, bool Retire);
