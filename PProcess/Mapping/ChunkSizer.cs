using System.Diagnostics;

namespace PProcess.Mapping;

/// <summary>
/// How many elements the next chunk holds. The rule, and why (docs/performance.md, "PMap's chunks"):
/// <list type="bullet">
/// <item>Handing a chunk to a child and getting its results back costs a round trip between
/// processes, tens of microseconds, while a thread of PLINQ takes its next chunk in nanoseconds. So
/// the size is set by time, not by a count of elements as PLINQ's chunk partitioner does (it starts at
/// one element and doubles every third chunk, up to a few cache lines of elements): each chunk aims at
/// <see cref="Target"/> of work, which makes the round trip about 1% of it, and keeps the wait at
/// the end of an unknown-length source under one chunk's time.</item>
/// <item>The children measure each chunk's work (the time their selector took, without the
/// round trip) and the parent keeps a running mean of the time per element.</item>
/// <item>The first chunk of each child is one element, and each chunk is at most twice the one
/// before (PLINQ's doubling, at every chunk instead of every third, since a chunk costs more here):
/// one element or a few slow ones are never held back in a big chunk, and a measurement taken on
/// a few elements cannot make one chunk huge.</item>
/// <item>When the total is known (an array, list or collection), a chunk is at most the remaining
/// elements over twice the number of children (guided scheduling; Python's Pool.map takes a quarter
/// of the elements per worker, once): the last chunks shrink, and the children finish together.</item>
/// <item>When the total is known, a chunk is also at most a sixteenth of each child's share of it
/// (the total over 16 children): elements whose cost changes along the source (Mandelbrot's rows,
/// cheap at the edges and dear in the middle) would otherwise be cut into chunks sized on the cheap
/// ones, and a few of those chunks of dear elements would leave one child working alone at the end
/// (docs/performance.md, "PMap's chunks").</item>
/// <item>At most <see cref="MaxChunk"/> elements, so that the read-ahead window (a few chunks per
/// child) and a chunk's message stay bounded whatever the elements are.</item>
/// </list>
/// A fixed <see cref="PMapOptions.BatchSize"/> replaces the whole rule.
/// </summary>
internal sealed class ChunkSizer(int children, int? fixedSize, long? total = null)
{
    /// <summary>The most elements in a chunk when the total is known: a sixteenth of a child's share.</summary>
    private readonly long shareCap = total is { } n ? Math.Max(1, n / (16L * children)) : long.MaxValue;

    /// <summary>The work a chunk aims at.</summary>
    internal static readonly TimeSpan Target = TimeSpan.FromMilliseconds(5);

    /// <summary>The most elements in a chunk.</summary>
    internal const int MaxChunk = 16384;

    private double ticksPerElement = double.NaN;
    private int last;

    /// <summary>The size of the last chunk cut (at least 1), which sets the read-ahead window.</summary>
    internal int Last => Math.Max(last, fixedSize ?? 1);

    /// <summary>
    /// The size of the next chunk; <paramref name="remaining"/> is how many elements are left to
    /// cut when the total is known. <paramref name="target"/> replaces <see cref="Target"/> (for a
    /// chunk that costs a fork of its own).
    /// </summary>
    internal int Next(long? remaining, TimeSpan? target = null)
    {
        int size;
        if (fixedSize is { } f)
        {
            size = f;
        }
        else if (double.IsNaN(ticksPerElement))
        {
            // Nothing measured yet: one element per child's first chunk.
            size = 1;
        }
        else
        {
            double aim = (target ?? Target).TotalSeconds * Stopwatch.Frequency / Math.Max(ticksPerElement, 1);
            size = (int)Math.Clamp(Math.Min(Math.Min(aim, 2.0 * Math.Max(last, 1)), shareCap), 1, MaxChunk);
            if (remaining is { } left)
            {
                size = (int)Math.Max(1, Math.Min(size, (left + 2 * children - 1) / (2 * children)));
            }
        }
        if (remaining is { } r)
        {
            size = (int)Math.Max(1, Math.Min(size, r));
        }
        last = size;
        return size;
    }

    /// <summary>A child computed <paramref name="elements"/> elements in <paramref name="ticks"/> Stopwatch ticks.</summary>
    internal void Observe(long ticks, int elements)
    {
        if (elements <= 0 || ticks < 0)
        {
            return;
        }
        double sample = (double)ticks / elements;
        // A running mean that follows a change of pace within a few chunks.
        ticksPerElement = double.IsNaN(ticksPerElement) ? sample : 0.5 * ticksPerElement + 0.5 * sample;
    }
}
