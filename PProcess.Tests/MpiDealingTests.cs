using PProcess.Mpi;
using PProcess.Mpi.Dealing;
using PProcess.Serialization;

namespace PProcess.Tests;

/// <summary>The parts of a map across ranks that need no MPI: how ranges are dealt, and the report a rank sends.</summary>
public class MpiDealingTests
{
    /// <summary>Every rank's first range, then the rest as asked for.</summary>
    private static List<Chunk> DealAll(int count, int ranks, int? chunkSize, int minimum)
    {
        var dealer = new RangeDealer(count, ranks, chunkSize);
        var chunks = Enumerable.Range(0, ranks).Select(r => RangeDealer.First(count, ranks, r, chunkSize)).OfType<Chunk>().ToList();
        while (dealer.Take(minimum) is { } chunk)
        {
            chunks.Add(chunk);
        }
        return chunks;
    }

    [Theory]
    [InlineData(0, 2, 1)]
    [InlineData(1, 2, 4)]
    [InlineData(200, 2, 2)]
    [InlineData(1000, 4, 3)]
    [InlineData(7, 16, 1)]
    public void RangesOnRequestCoverEveryIndexOnceInOrderLargeFirst(int count, int ranks, int minimum)
    {
        var chunks = DealAll(count, ranks, null, minimum);
        Assert.Equal(Enumerable.Range(0, count), chunks.SelectMany(c => Enumerable.Range(c.Start, c.Count)));
        Assert.Equal(chunks.Select(c => c.Count).OrderDescending(), chunks.Select(c => c.Count));
        if (count >= 200)
        {
            // Guided: a quarter of what is left per rank, so each rank's first range is count / (4 * ranks).
            Assert.All(chunks.Take(ranks), c => Assert.Equal((int)Math.Ceiling(count / (4.0 * ranks)), c.Count));
            Assert.All(chunks.SkipLast(1), c => Assert.True(c.Count >= minimum));
            Assert.Equal(minimum, chunks[^2].Count);
        }
    }

    [Fact]
    public void AFixedChunkSizeIsDealtAsIsAndStopEndsTheDealing()
    {
        var dealer = new RangeDealer(20, 2, 4);
        Assert.Equal(new Chunk(0, 4), RangeDealer.First(20, 2, 0, 4));
        Assert.Equal(new Chunk(4, 4), RangeDealer.First(20, 2, 1, 4));
        Assert.Equal(new Chunk(8, 4), dealer.Take(100));
        Assert.Equal(new Chunk(12, 4), dealer.Take(1));
        dealer.Stop();
        Assert.Null(dealer.Take(1));
        Assert.Null(RangeDealer.First(1, 2, 1, null));
        Assert.Null(new RangeDealer(1, 2, null).Take(1));
    }

    [Theory]
    [InlineData(80, 2, 1)]
    [InlineData(81, 3, 5)]
    [InlineData(5, 4, null)]
    [InlineData(1000, 2, null)]
    public void InterleavedRangesOfAllRanksCoverEveryIndexOnce(int count, int ranks, int? chunkSize)
    {
        var all = Enumerable.Range(0, ranks).SelectMany(rank => Interleaved.Chunks(count, ranks, rank, chunkSize)).ToList();
        Assert.Equal(Enumerable.Range(0, count), all.SelectMany(c => Enumerable.Range(c.Start, c.Count)).Order());
        for (int rank = 0; rank < ranks; rank++)
        {
            var mine = Interleaved.Chunks(count, ranks, rank, chunkSize).ToList();
            Assert.Equal(mine.OrderBy(c => c.Start), mine);
        }
        if (chunkSize == 1)
        {
            Assert.All(Interleaved.Chunks(count, ranks, 1, 1), c => Assert.Equal(1, c.Start % ranks));
        }
    }

    [Fact]
    public void AReportCarriesResultsAndAFailureThroughTheSerializer()
    {
        var rows = new[] { new byte[] { 1, 2, 3 }, new byte[] { 4 } };
        var failure = RankFailure.From(new InvalidOperationException("boom"), 12, 1, 2);
        using (var buffer = Report.Encode(10, rows, failure, DefaultChannelSerializer.Instance))
        {
            var (start, results, carried) = Report.Decode<byte[]>(buffer, DefaultChannelSerializer.Instance);
            Assert.Equal(10, start);
            Assert.Equal(rows, results);
            Assert.Equal(failure, carried);
            var error = new RankFailureException(carried!);
            Assert.Equal("Element 12 failed on rank 1 of 2 (" + Environment.MachineName + "): boom", error.Message);
            Assert.Equal("System.InvalidOperationException", error.RemoteType);
        }
        using (var buffer = Report.Encode(0, new[] { "a", "b" }, null, DefaultChannelSerializer.Instance))
        {
            var (start, results, carried) = Report.Decode<string>(buffer, DefaultChannelSerializer.Instance);
            Assert.Equal(0, start);
            Assert.Equal(["a", "b"], results);
            Assert.Null(carried);
        }
    }

    [Fact]
    public void BadOptionsAreRefusedBeforeAnyRankIsAsked()
    {
        int[] list = [1, 2, 3];
        Assert.Throws<ArgumentOutOfRangeException>(() => list.PMapAcrossRanks(x => x, new MpiPMapOptions { Limit = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => list.PMapAcrossRanks(x => x, new MpiPMapOptions { ChunkSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => list.PMapAcrossRanks(x => x, new MpiPMapOptions { BatchSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => list.PMapAcrossRanks(x => x, new MpiPMapOptions { Deal = (MpiDeal)7 }));
        Assert.Throws<ArgumentNullException>(() => ((int[])null!).PMapAcrossRanks(x => x));
    }
}
