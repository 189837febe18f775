namespace PProcess.Mpi.Dealing;

/// <summary>
/// Rank 0's dealing of index ranges on request (<see cref="MpiDeal.Dynamic"/>): in source order,
/// each a quarter of what is left divided by the number of ranks (guided scheduling), but never less
/// than the asking rank can run at once; a fixed size when one is given. Large ranges first keep
/// requests few; small ones at the end let the ranks finish together.
/// </summary>
internal sealed class RangeDealer(int count, int ranks, int? chunkSize)
{
    private int next;
    private bool stopped;

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
