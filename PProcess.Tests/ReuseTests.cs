using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>Reuse mode: MakeReusable children serve many jobs, receiving arguments over their channel.</summary>
public abstract class ReuseTests : TransportScenarios
{
    private sealed record Work(string Text, int Times);

    private static (string, int) Repeat(Work work) => (string.Concat(Enumerable.Repeat(work.Text, work.Times)), Environment.ProcessId);

    [Fact]
    public void TheSameChildrenServeManyJobsWithArgumentsSentOverTheChannel() => Passes(ReuseScenario);

    private static void ReuseScenario()
    {
        using var map = new Map<(string Text, int Pid)>(new ExchangeOptions { Limit = 2, Reuse = true });
        var repeat = map.Manage(Exchange.MakeReusable((Work w) => Repeat(w)));
        for (int i = 0; i < 30; i++)
        {
            repeat(new Work($"{i}-", i % 4));
        }
        var results = map.ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => string.Concat(Enumerable.Repeat($"{i}-", i % 4))), results.Select(r => r.Text));
        var pids = results.Select(r => r.Pid).Distinct().ToList();
        Assert.InRange(pids.Count, 1, 2);
        Assert.DoesNotContain(Environment.ProcessId, pids);
        map.Finish();
        Assert.Empty(map.Active());
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AReusableChildIsReplacedAfterMaxJobsPerChildWithNoJobLost() => Passes(RecycleScenario);

    private static void RecycleScenario()
    {
        using var map = new Map<(string Text, int Pid)>(new ExchangeOptions { Limit = 2, Reuse = true, MaxJobsPerChild = 3 });
        var repeat = map.Manage(Exchange.MakeReusable((Work w) => Repeat(w)));
        for (int i = 0; i < 30; i++)
        {
            repeat(new Work($"{i}-", 1));
        }
        var results = map.ToList();
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"{i}-"), results.Select(r => r.Text));
        var perChild = results.GroupBy(r => r.Pid).ToList();
        Assert.All(perChild, g => Assert.InRange(g.Count(), 1, 3));
        Assert.InRange(perChild.Count, 10, 30);
        map.Finish();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static int Checked(int x) => x % 5 == 4 ? throw new InvalidDataException($"bad {x}") : Environment.ProcessId;

    [Fact]
    public void AReusedChildThatThrowsFailsThatJobAndServesOn() => Passes(ThrowingScenario);

    private static void ThrowingScenario()
    {
        using var map = new Map<int>(new ExchangeOptions { Limit = 1, Reuse = true });
        var job = map.Manage(Exchange.MakeReusable((int x) => Checked(x)));
        for (int x = 0; x < 10; x++)
        {
            job(x);
        }
        var error = Assert.Throws<RemoteException>(() => map[4]);
        Assert.Contains("bad 4", error.Message);
        Assert.Contains("#4 ", error.Job);
        Assert.Throws<RemoteException>(() => map[9]);
        var pids = new[] { 0, 1, 2, 3, 5, 6, 7, 8 }.Select(i => map[i]).Distinct();
        Assert.Single(pids);
    }

    [Fact]
    public void TwoReusableFunctionsShareOneSlotWithoutDeadlock() => Passes(TwoFunctionsScenario);

    private static void TwoFunctionsScenario()
    {
        using var queue = new ResultQueue<string>(new ExchangeOptions { Limit = 1, Reuse = true });
        var upper = queue.Manage(Exchange.MakeReusable((string s) => s.ToUpperInvariant()));
        var lower = queue.Manage(Exchange.MakeReusable((string s) => s.ToLowerInvariant()));
        upper("a");
        lower("B");
        upper("c");
        Assert.Equal(["A", "b", "C"], queue.ToList());
        queue.Finish();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AReusableJobInAnExchangeWithoutReuseGetsAChildPerJob() => Passes(NoReuseScenario);

    private static void NoReuseScenario()
    {
        using var map = new Map<int>(limit: 2);
        var pid = map.Manage(Exchange.MakeReusable((int _) => Environment.ProcessId));
        for (int i = 0; i < 6; i++)
        {
            pid(i);
        }
        Assert.Equal(6, map.Distinct().Count());
        map.Finish();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ReuseAndContinuousTogetherAreRefused()
    {
        var error = Assert.Throws<ArgumentException>(() => new Exchange(new ExchangeOptions { Reuse = true, Continuous = true }));
        Assert.Contains("reuse", error.Message);
    }
}

/// <summary>The reuse tests over socketpairs.</summary>
public sealed class ReuseTestsOverSockets : ReuseTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.Socket;
}

/// <summary>The reuse tests over shared memory.</summary>
public sealed class ReuseTestsOverSharedMemory : ReuseTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.SharedMemory;
}
