namespace PProcess.Mpi.Dealing;

/// <summary>
/// <see cref="MpiDeal.Interleaved"/>: fixed ranges, range c to rank c mod size, computed alike on every
/// rank from the list's length and the number of ranks only (never from a rank's own core count).
/// </summary>
internal static class Interleaved
{
    /// <summary>The ranges of <paramref name="rank"/>, in source order.</summary>
    internal static IEnumerable<Chunk> Chunks(int count, int ranks, int rank, int? chunkSize)
    {
        int size = chunkSize ?? Math.Max(1, (int)Math.Ceiling(count / (16.0 * ranks)));
        for (long start = (long)rank * size; start < count; start += (long)ranks * size)
        {
            yield return new Chunk((int)start, (int)Math.Min(size, count - start));
        }
    }
}
