namespace PProcess;

/// <summary>
/// What the children of a map (<see cref="PMapOptions.Sharing"/>) or a pool
/// (<see cref="WorkerPool{TState}.Sharing"/>) no longer share of their parent's memory, and what
/// the library did to keep it shared (docs/performance.md, "Copy-on-write that holds"). Filled
/// while they run; safe to read from any thread.
/// </summary>
public sealed class SharingInsights
{
    private readonly Lock gate = new();
    private readonly Dictionary<int, ChildMemory> children = [];
    private long parentHeapBytes;
    private int replaced;
    private TimeSpan parentCollectionTime;

    /// <summary>The parent's managed heap in use, in bytes, when it last forked a child of this map or pool.</summary>
    public long ParentHeapBytes
    {
        get
        {
            lock (gate)
            {
                return parentHeapBytes;
            }
        }
    }

    /// <summary>How many children were replaced by a fresh fork, between chunks or jobs, to keep the parent's heap shared.</summary>
    public int ChildrenReplaced
    {
        get
        {
            lock (gate)
            {
                return replaced;
            }
        }
    }

    /// <summary>
    /// The time the parent spent, before its forks, making its young objects old or running a
    /// full collection that was due, so that its children would not copy them.
    /// </summary>
    public TimeSpan ParentCollectionTime
    {
        get
        {
            lock (gate)
            {
                return parentCollectionTime;
            }
        }
    }

    /// <summary>Each child measured so far, by its last measure, in the order they were first measured.</summary>
    public IReadOnlyList<ChildMemory> Children
    {
        get
        {
            lock (gate)
            {
                return [.. children.Values];
            }
        }
    }

    /// <summary>The most any child measured so far un-shared (<see cref="ChildMemory.UnsharedBytes"/>), in bytes.</summary>
    public long MaxUnsharedBytes
    {
        get
        {
            lock (gate)
            {
                long max = 0;
                foreach (var child in children.Values)
                {
                    max = Math.Max(max, child.UnsharedBytes);
                }
                return max;
            }
        }
    }

    /// <summary><see cref="MaxUnsharedBytes"/> over <see cref="ParentHeapBytes"/>: 0 when every child shares all, 1 when one copied as much as the parent's whole heap.</summary>
    public double MaxUnsharedRatio
    {
        get
        {
            long heap = ParentHeapBytes;
            return heap > 0 ? (double)MaxUnsharedBytes / heap : 0;
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Children.Count} children measured, at most {MaxUnsharedBytes >> 20} MB un-shared of a {ParentHeapBytes >> 20} MB parent heap " +
        $"({MaxUnsharedRatio:0.00}), {ChildrenReplaced} replaced, {ParentCollectionTime.TotalMilliseconds:0} ms of collections before forks";

    internal void Forked(long parentHeap, TimeSpan collections)
    {
        lock (gate)
        {
            parentHeapBytes = parentHeap;
            parentCollectionTime += collections;
        }
    }

    internal void Measured(ChildMemory child)
    {
        lock (gate)
        {
            children[child.Pid] = child;
            if (child.Replaced)
            {
                replaced++;
            }
        }
    }
}
