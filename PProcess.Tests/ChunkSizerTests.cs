using System.Diagnostics;
using PProcess.Mapping;

namespace PProcess.Tests;

/// <summary>The chunk-size rule of PMap's default engine (ChunkSizer), without forking.</summary>
public class ChunkSizerTests
{
    private static long Ticks(TimeSpan time) => (long)(time.TotalSeconds * Stopwatch.Frequency);

    [Fact]
    public void ChunksStartAtOneElementAndAtMostDouble()
    {
        var sizer = new ChunkSizer(children: 2, fixedSize: null);
        Assert.Equal(1, sizer.Next(null));
        int last = 1;
        for (int i = 0; i < 20; i++)
        {
            sizer.Observe(Ticks(TimeSpan.FromMicroseconds(1)) * last, last);
            int size = sizer.Next(null);
            Assert.InRange(size, 1, 2 * last);
            last = size;
        }
        // Elements of 1 µs: about 5 ms of them, within the largest chunk.
        Assert.InRange(last, 2_500, ChunkSizer.MaxChunk);
    }

    [Fact]
    public void WithAKnownTotalAChunkIsAtMostASixteenthOfAChildsShareHoweverCheapTheElementsLooked()
    {
        // 1,200 elements for 2 children, the first ones cheap (10 µs): a chunk sized on them alone
        // would be 500 elements, which, if the elements then cost milliseconds, leaves one child
        // working alone at the end.
        const long total = 1_200;
        var sizer = new ChunkSizer(children: 2, fixedSize: null, total);
        long left = total;
        int size = sizer.Next(left);
        while (left > 0)
        {
            Assert.InRange(size, 1, total / 32);
            left -= size;
            sizer.Observe(Ticks(TimeSpan.FromMicroseconds(10)) * size, size);
            size = sizer.Next(Math.Max(left, 1));
        }
    }

    [Fact]
    public void AFixedBatchSizeReplacesTheRule()
    {
        var sizer = new ChunkSizer(children: 2, fixedSize: 100, total: 1_000);
        sizer.Observe(Ticks(TimeSpan.FromSeconds(1)), 1);
        Assert.Equal(100, sizer.Next(1_000));
        Assert.Equal(7, sizer.Next(7));
    }
}
