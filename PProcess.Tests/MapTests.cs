using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>Map: results in job order, indexers and slices that wait only for what they need.</summary>
public class MapTests
{
    /// <summary>Sleeps a pseudo-random time (fixed per job), so results arrive out of order.</summary>
    private static int SlowSquare(int x)
    {
        Thread.Sleep(new Random(x).Next(0, 40));
        return x * x;
    }

    [Fact]
    public void ResultsComeInJobOrderWhateverOrderTheyArriveIn() => IsolatedProcess.Passes(OrderScenario);

    private static void OrderScenario()
    {
        using var map = new Map<int>(limit: 6);
        var square = map.Manage(Exchange.MakeParallel((int x) => SlowSquare(x)));
        for (int x = 0; x < 60; x++)
        {
            square(x);
        }
        Assert.Equal(60, map.Count);
        Assert.Equal(Enumerable.Range(0, 60).Select(x => x * x), map.ToList());
        Assert.Equal(Enumerable.Range(10, 5).Select(x => x * x), map[10..15]);
        Assert.Equal(59 * 59, map[^1]);
        map.Finish();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    /// <summary>Job 2 waits until the parent releases it, so only a slice that does not wait for it can return.</summary>
    private static void HeldUntilReleased(Channel channel, int job)
    {
        if (job == 2)
        {
            channel.Receive<string>();
        }
        channel.Send(job * 10);
    }

    [Fact]
    public void SliceAndIndexerWaitOnlyForTheirOwnElements() => IsolatedProcess.Passes(SliceScenario);

    private static void SliceScenario()
    {
        using var map = new Map<int>(limit: 4);
        for (int job = 0; job < 4; job++)
        {
            map.Start(HeldUntilReleased, job);
        }
        // Would hang if the slice or the indexer waited for job 2 (the scenario's timeout fails the test).
        Assert.Equal([0, 10], map[0..2]);
        Assert.Equal(30, map[3]);
        Assert.False(map.IsReady(2));
        var held = map.Active().Single(c => c.Job!.StartsWith("#2 "));
        held.Send("go");
        Assert.Equal(20, map[2]);
        Assert.Equal([0, 10, 20, 30], map.ToArray());
    }

    private static int FailOnThree(int x) => x == 3 ? throw new InvalidOperationException("three is not allowed") : x + 100;

    [Fact]
    public void AFailedJobRaisesAtItsIndexAndTheOthersAreKept() => IsolatedProcess.Passes(FailureScenario);

    private static void FailureScenario()
    {
        using var map = new Map<int>(limit: 3);
        var job = map.Manage(Exchange.MakeParallel((int x) => FailOnThree(x)));
        for (int x = 0; x < 6; x++)
        {
            job(x);
        }
        Assert.Equal(105, map[5]);
        var error = Assert.Throws<RemoteException>(() => map[3]);
        Assert.Equal(typeof(InvalidOperationException).FullName, error.RemoteType);
        Assert.Contains("three is not allowed", error.Message);
        Assert.Contains(nameof(FailOnThree), error.StackTrace);
        Assert.Contains("#3 ", error.Job);
        Assert.Equal([100, 101, 102], map[0..3]);
        Assert.Equal(104, map[4]);
        // The failure stays at its index: asking again raises it again.
        Assert.Throws<RemoteException>(() => map[3]);
    }

    private static void KilledOnOne(Channel channel, int x)
    {
        if (x == 1)
        {
            Syscall.kill(Syscall.getpid(), Signum.SIGKILL);
        }
        channel.Send(x);
    }

    [Fact]
    public void AChildKilledMidJobRaisesAtItsIndex() => IsolatedProcess.Passes(KilledScenario);

    private static void KilledScenario()
    {
        using var map = new Map<int>(limit: 2);
        for (int x = 0; x < 3; x++)
        {
            map.Start(KilledOnOne, x);
        }
        var error = Assert.Throws<ChildExitedException>(() => map[1]);
        Assert.Equal(9, error.Signal);
        Assert.Contains("KilledOnOne(1)", error.Message);
        Assert.Equal(0, map[0]);
        Assert.Equal(2, map[2]);
        map.Finish();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void CreateJobsAreOrderedByCreation() => IsolatedProcess.Passes(CreateScenario);

    private static void CreateScenario()
    {
        using var map = new Map<string>(limit: 3);
        for (int i = 0; i < 9; i++)
        {
            var channel = map.Create();
            if (channel is not null)
            {
                Thread.Sleep((9 - i) * 5);
                channel.Send($"child {i}");
                Fork.Exit(channel);
            }
        }
        Assert.Equal(Enumerable.Range(0, 9).Select(i => $"child {i}"), map);
    }
}
