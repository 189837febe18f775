namespace PProcess.Mpi.Dealing;

/// <summary>
/// Rank 0's dealing of index ranges on request (<see cref="MpiDeal.Dynamic"/>). Each rank's first
/// range is known to every rank without asking (rank r takes the r-th of equal first ranges), so
/// that no rank waits for rank 0, which may be busy with its own, before it can start.
/// After them, ranges go in source order to whichever rank asks, each a quarter of what is left
/// divided by the number of ranks (guided scheduling) but never less than the asking rank runs at
/// once; a fixed size when one is given. Large ranges first keep requests few; small ones at the
/// end let the ranks finish together.
/// </summary>
internal sealed class RangeDealer
{
    private readonly int count;
    private readonly int ranks;
    private readonly int? chunkSize;
    private int next;
    private bool stopped;

    internal RangeDealer(int count, int ranks, int? chunkSize)
    {
        this.count = count;
        this.ranks = ranks;
        this.chunkSize = chunkSize;
        next = (int)Math.Min(count, (long)ranks * FirstSize(count, ranks, chunkSize));
    }

    /// <summary>The first range of <paramref name="rank"/>, or null when the list is too short to give it one.</summary>
    internal static Chunk? First(int count, int ranks, int rank, int? chunkSize)
    {
        int size = FirstSize(count, ranks, chunkSize);
        long start = (long)rank * size;
        return start >= count ? null : new Chunk((int)start, (int)Math.Min(size, count - start));
    }

    private static int FirstSize(int count, int ranks, int? chunkSize) =>
        chunkSize ?? Math.Max(1, (int)Math.Ceiling(count / (4.0 * ranks)));

    /// <summary>The next range for a rank that runs <paramref name="minimum"/> elements at once, or null when none is left.</summary>
    internal Chunk? Take(int minimum)
    {
        if (stopped || next >= count)
        {
            return null;
        }
        int left = count - next;
        int size = chunkSize ?? Math.Max(Math.Max(minimum, 1), (int)Math.Ceiling(left / (4.0 * ranks)));
        var chunk = new Chunk(next, Math.Min(size, left));
        next = chunk.End;
        return chunk;
    }

    /// <summary>Deals nothing more: an element failed, and the map ends at it.</summary>
    internal void Stop() => stopped = true;
}
