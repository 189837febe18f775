using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>Job timeouts and cancellation: children are killed and reaped, the caller gets a clear error, nothing hangs.</summary>
public class TimeoutAndCancellationTests
{
    private static int SleepForeverOn(int x)
    {
        if (x == 1)
        {
            Thread.Sleep(Timeout.Infinite);
        }
        return x * 2;
    }

    [Fact]
    public void AJobThatRunsTooLongIsKilledAndFailsAtItsIndex() => IsolatedProcess.Passes(MapTimeoutScenario);

    private static void MapTimeoutScenario()
    {
        using var map = new Map<int>(new ExchangeOptions { Limit = 2, JobTimeout = TimeSpan.FromMilliseconds(300) });
        var job = map.Manage(Exchange.MakeParallel((int x) => SleepForeverOn(x)));
        for (int x = 0; x < 4; x++)
        {
            job(x);
        }
        var error = Assert.Throws<ChildTimeoutException>(() => map[1]);
        Assert.Equal(TimeSpan.FromMilliseconds(300), error.Timeout);
        Assert.Contains("#1 lambda in", error.Message);
        Assert.Contains("(1)", error.Job);
        Assert.Contains("job timeout", error.Message);
        Assert.Contains(error.Pid.ToString(), error.Message);
        Assert.Equal([0, 4, 6], new[] { map[0], map[2], map[3] });
        map.Finish();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void PMapTimeoutRaisesAtTheBatchAfterTheResultsBeforeIt() => IsolatedProcess.Passes(PMapTimeoutScenario);

    private static void PMapTimeoutScenario()
    {
        var seen = new List<int>();
        var error = Assert.Throws<ChildTimeoutException>(() =>
        {
            foreach (var x in Enumerable.Range(0, 6).PMap(SleepForeverOn, new PMapOptions { Limit = 2, JobTimeout = TimeSpan.FromMilliseconds(300) }))
            {
                seen.Add(x);
            }
        });
        Assert.Equal([0], seen);
        Assert.Contains("#1 ", error.Job);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ReusedChildrenGetAFreshDeadlinePerJob() => IsolatedProcess.Passes(ReuseDeadlineScenario);

    /// <summary>
    /// Eight jobs of 100 ms through one reused child with a 500 ms timeout: together they take longer
    /// than the timeout, so a deadline counted from the fork instead of from each hand-over kills it.
    /// </summary>
    private static void ReuseDeadlineScenario()
    {
        using var map = new Map<int>(new ExchangeOptions { Limit = 1, Reuse = true, JobTimeout = TimeSpan.FromMilliseconds(500) });
        var job = map.Manage(Exchange.MakeReusable((int x) => { Thread.Sleep(100); return Environment.ProcessId; }));
        for (int x = 0; x < 8; x++)
        {
            job(x);
        }
        Assert.Single(map.Distinct());
    }

    [Fact]
    public void CancellingAnExchangeKillsItsChildrenAndRaisesOperationCanceled() => IsolatedProcess.Passes(CancelExchangeScenario);

    private static void CancelExchangeScenario()
    {
        using var cancel = new CancellationTokenSource();
        using var queue = new ResultQueue<int>(limit: 2);
        var job = queue.Manage(Exchange.MakeParallel((int x) => x == 0 ? x : SleepForeverOn(1)));
        for (int x = 0; x < 5; x++)
        {
            job(x);
        }
        var seen = new List<int>();
        // Only cancellation can end this loop: the other children sleep for ever.
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var x in queue.WithCancellation(cancel.Token))
            {
                seen.Add(x);
                cancel.Cancel();
            }
        });
        Assert.Equal([0], seen);
        Assert.Empty(queue.Active());
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.Throws<OperationCanceledException>(() => queue.Finish(cancel.Token));
    }

    [Fact]
    public void CancellationFromAnotherThreadWakesABlockedWait() => IsolatedProcess.Passes(CancelFromThreadScenario);

    private static void CancelFromThreadScenario()
    {
        using var cancel = new CancellationTokenSource();
        using var exchange = new Collecting(limit: 2);
        exchange.Start(c => { c.Send("started"); Thread.Sleep(Timeout.Infinite); });
        var channel = Assert.Single(exchange.Active());
        Assert.Equal("started", channel.Receive<string>());
        // The fork is done; now a thread cancels while the main thread is blocked in poll.
        var canceller = new Thread(() => cancel.Cancel());
        canceller.Start();
        Assert.Throws<OperationCanceledException>(() => exchange.Finish(cancel.Token));
        canceller.Join();
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void BadTimeoutsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Exchange(new ExchangeOptions { JobTimeout = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new[] { 1 }.PMap(x => x, new PMapOptions { JobTimeout = TimeSpan.FromSeconds(-1) }));
    }
}
