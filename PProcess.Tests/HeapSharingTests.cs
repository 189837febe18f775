using PProcess.Tests.Isolation;
using PProcess.Tests.Support;
using static PProcess.Tests.Support.CopyOnWrite;

namespace PProcess.Tests;

/// <summary>
/// Copy-on-write that holds while children live (issue 27; docs/performance.md, "Copy-on-write
/// that holds"): what a child un-shares of its parent's heap beyond its own objects, measured by
/// the harness the benchmark uses (<see cref="CopyOnWrite"/>), stays under a fifth of the parent's
/// heap, for a map's kept children and a pool's workers whose caches grow until their collections
/// would reach the inherited heap. Each scenario runs in its own process, with a parent heap of
/// about 85 MB (the benchmark runs the issue's 400 MB one).
/// </summary>
public class HeapSharingTests
{
    /// <summary>The bound of issue 27: what a child un-shares, over the parent's heap.</summary>
    private const double Bound = 0.2;

    private const int Entries = 400_000;

    /// <summary>A job adds 40,000 arrays (11 MB) to a cache that is halved at 160,000: the issue's worker, smaller.</summary>
    private static readonly Scale Retaining = new(50_000, 40_000, 160_000);

    /// <summary>A job adds 200,000 arrays (56 MB) to a cache never halved: a child's collections reach its full-collection budget in a few jobs.</summary>
    private static readonly Scale Hoarding = new(10_000, 200_000, int.MaxValue);

    /// <summary>A job allocates 40,000 arrays and keeps none.</summary>
    private static readonly Scale Churning = new(50_000, 40_000, 0);

    private static string AssertShared(IReadOnlyList<Reading> readings, long parentHeap, string what)
    {
        var worst = readings.MaxBy(r => r.UnsharedBytes);
        var mostCopied = readings.MaxBy(r => r.CopiedData);
        var report = $"{what}: parent heap {parentHeap >> 20} MB; worst {worst}; most data copied: {mostCopied}; {readings.Select(r => r.Pid).Distinct().Count()} children";
        Console.WriteLine(report);
        Assert.True(worst.UnsharedBytes <= Bound * parentHeap && mostCopied.CopiedData <= Bound,
            $"a child un-shared more than {Bound} of the parent's heap. {report}; all: {string.Join("; ", readings)}");
        return report;
    }

    private static void AssertAnswers(int[] seeds, Scale scale, Reading[] readings) =>
        Assert.Equal(seeds.Select(s => Expected(s, scale)), readings.Select(r => r.Answer));

    // ---- PMap's kept children ----

    [Fact]
    public void KeptChildrenOfAPMapWhoseCachesGrowKeepTheParentsHeapShared() => IsolatedProcess.Passes(KeptChildrenScenario);

    private static void KeptChildrenScenario()
    {
        BuildParent(Entries);
        long heap = ParentHeap();
        var seeds = Enumerable.Range(0, 24).ToArray();
        var readings = seeds.PMap(static seed => Job(seed, Workload.Retain, Retaining), new PMapOptions { Limit = 2, BatchSize = 1 }).ToArray();
        AssertAnswers(seeds, Retaining, readings);
        AssertShared(readings, heap, "PMap, 2 kept children, 24 jobs retaining");
    }

    [Fact]
    public void AKeptChildWhoseNextCollectionWouldBeFullIsReplacedByAFreshForkAndNoElementIsLost() =>
        IsolatedProcess.Passes(ReplacedChildScenario);

    private static void ReplacedChildScenario()
    {
        BuildParent(Entries);
        long heap = ParentHeap();
        var sharing = new SharingInsights();
        // When the collector says a child's full collection approaches depends on its budget
        // (about 400 MB of a child's own objects here, more at times): the map goes on until a
        // child has been replaced and its replacement has served, up to 64 jobs.
        var readings = new List<Reading>();
        foreach (var reading in Enumerable.Range(0, 64).ToArray().PMap(static seed => Job(seed, Workload.Retain, Hoarding),
            new PMapOptions { Limit = 2, BatchSize = 1, Sharing = sharing }))
        {
            readings.Add(reading);
            if (sharing.ChildrenReplaced >= 1 && readings.Select(r => r.Pid).Distinct().Count() >= 3)
            {
                break;
            }
        }
        AssertAnswers([.. Enumerable.Range(0, readings.Count)], Hoarding, [.. readings]);
        AssertShared(readings, heap, $"PMap, 2 kept children, {readings.Count} jobs hoarding 56 MB each");
        Assert.True(sharing.ChildrenReplaced >= 1, $"no child was replaced: {sharing}");
        Assert.True(readings.Select(r => r.Pid).Distinct().Count() >= 3, "the replacement served no job");
        Assert.All(readings, r => Assert.Equal(0, r.FullCollections));
        // The library's own measure says the same as the harness.
        Assert.True(sharing.MaxUnsharedRatio <= Bound, sharing.ToString());
        Assert.Contains(sharing.Children, c => c.Replaced && c.OwnHeapPeakBytes > 2 * heap);
    }

    [Fact]
    public void AChildMemoryBudgetReplacesKeptChildrenBetweenChunksAndTheResultsStayInOrder() =>
        IsolatedProcess.Passes(BudgetScenario);

    private static void BudgetScenario()
    {
        BuildParent(Entries);
        var sharing = new SharingInsights();
        var seeds = Enumerable.Range(0, 24).ToArray();
        var options = new PMapOptions { Limit = 2, BatchSize = 1, ChildMemoryBudget = 30L << 20, Sharing = sharing };
        var readings = seeds.PMap(static seed => Job(seed, Workload.Retain, Retaining), options).ToArray();
        AssertAnswers(seeds, Retaining, readings);
        // 11 MB a job: a child passes 30 MB at its third job, and is replaced after it.
        Assert.True(sharing.ChildrenReplaced >= 4, sharing.ToString());
        Assert.All(readings.GroupBy(r => r.Pid), child => Assert.InRange(child.Count(), 1, 3));
        Assert.All(readings, r => Assert.True(r.OwnPeakBytes < (30L << 20) + (16L << 20), r.ToString()));
    }

    [Fact]
    public void ReadingAndMakingGarbageKeepTheParentsHeapShared() => IsolatedProcess.Passes(ReadAndChurnScenario);

    private static void ReadAndChurnScenario()
    {
        BuildParent(Entries);
        long heap = ParentHeap();
        var seeds = Enumerable.Range(0, 16).ToArray();
        var reading = seeds.PMap(static seed => Job(seed, Workload.ReadOnly, Churning), new PMapOptions { Limit = 2, BatchSize = 1 }).ToArray();
        AssertAnswers(seeds, Churning, reading);
        AssertShared(reading, heap, "PMap, read-only jobs");
        var churning = seeds.PMap(static seed => Job(seed, Workload.Garbage, Churning), new PMapOptions { Limit = 2, BatchSize = 1 }).ToArray();
        AssertAnswers(seeds, Churning, churning);
        AssertShared(churning, heap, "PMap, jobs making garbage");
        var perElement = seeds.PMap(static seed => Job(seed, Workload.Garbage, Churning), new PMapOptions { Limit = 2, Mode = PMapMode.ForkPerElement }).ToArray();
        AssertAnswers(seeds, Churning, perElement);
        AssertShared(perElement, heap, "PMap, a fork per element, jobs making garbage");
    }

    // ---- What still un-shares ----

    [Fact]
    public void AChildsOwnFullCollectionOrKeepHeapSharedOffCopiesTheParentsHeapAndTheMeasureSaysSo() =>
        IsolatedProcess.Passes(WhatStillUnsharesScenario);

    private static void WhatStillUnsharesScenario()
    {
        BuildParent(Entries);
        long heap = ParentHeap();
        // Without the library's measures the children's collections reach the inherited heap
        // (first: the parent's collections before the other map's forks give children more room).
        var sharing = new SharingInsights();
        var seeds = Enumerable.Range(0, 24).ToArray();
        var unguarded = seeds.PMap(static seed => Job(seed, Workload.Retain, Retaining),
            new PMapOptions { Limit = 2, BatchSize = 1, KeepHeapShared = false, Sharing = sharing }).ToArray();
        AssertAnswers(seeds, Retaining, unguarded);
        Assert.Contains(unguarded, r => r.FullCollections >= 1 && r.UnsharedBytes > heap / 2 && r.CopiedData > 0.9);
        Assert.True(sharing.MaxUnsharedBytes > heap / 2 && sharing.ChildrenReplaced == 0 && sharing.ParentCollectionTime == TimeSpan.Zero, sharing.ToString());
        // The user's own GC.Collect(2) marks (writes) every inherited object.
        var few = seeds[..4];
        var collecting = few.PMap(static seed => Job(seed, Workload.Collect, Retaining), new PMapOptions { Limit = 2, BatchSize = 1 }).ToArray();
        AssertAnswers(few, Retaining, collecting);
        Assert.All(collecting, r => Assert.True(r.FullCollections >= 1 && r.UnsharedBytes > heap / 2 && r.CopiedData > 0.9, r.ToString()));
    }

    // ---- WorkerPool ----

    [Fact]
    public void WorkersOfAPoolWhoseCachesGrowAreReplacedBetweenJobsAndKeepTheParentsHeapShared() =>
        IsolatedProcess.Passes(PoolScenario);

    private static Reading PoolJob(int seed) => Job(seed, Workload.Retain, Hoarding);

    private static void PoolScenario()
    {
        BuildParent(Entries);
        long heap = ParentHeap();
        using var pool = new WorkerPool(new WorkerPoolOptions { Workers = 2 });
        // Batches of 8 jobs until a worker has been replaced (see ReplacedChildScenario), up to 64.
        var readings = new List<Reading>();
        for (int batch = 0; batch < 8 && pool.Sharing.ChildrenReplaced == 0; batch++)
        {
            var seeds = Enumerable.Range(batch * 8, 8).ToArray();
            var done = pool.Map<int, Reading>(PoolJob, seeds);
            AssertAnswers(seeds, Hoarding, done);
            readings.AddRange(done);
        }
        AssertShared(readings, heap, $"WorkerPool, 2 workers, {readings.Count} jobs hoarding 56 MB each");
        Assert.All(readings, r => Assert.Equal(0, r.FullCollections));
        var sharing = pool.MeasureSharing();
        Assert.True(sharing.ChildrenReplaced >= 1 && sharing.MaxUnsharedRatio <= Bound, sharing.ToString());
        Assert.Equal(2, pool.WorkerPids.Count);
        Assert.Equal(0, pool.Replacements);
    }

    // ---- Options ----

    [Fact]
    public void AChildMemoryBudgetMustBePositive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PMapOptions { ChildMemoryBudget = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new WorkerPoolOptions { ChildMemoryBudget = -1 });
        Assert.Null(new PMapOptions().ChildMemoryBudget);
        Assert.True(new ExchangeOptions().KeepHeapShared);
    }
}
