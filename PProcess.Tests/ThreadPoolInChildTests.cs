using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// The thread pool in a child (docs/fork-safety.md, rule 4): it works when the parent never
/// started a pool thread, and fails fast with a clear error when it did; it never hangs.
/// </summary>
public class ThreadPoolInChildTests
{
    private static void WaitsOnTheThreadPool(Channel channel) => channel.Send(Task.Run(() => 42).Result);

    [Fact]
    public void TaskRunInAChildOfAParentThatUsedThePoolFailsFastNamingRule4() =>
        IsolatedProcess.Passes(ParentUsedThePoolScenario);

    private static void ParentUsedThePoolScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        Assert.True(ThreadPool.ThreadCount > 0);
        using var exchange = new Collecting(limit: 2);
        exchange.Start(c => c.Send("fine"));
        exchange.Start(WaitsOnTheThreadPool);
        // Without the watcher this Finish never returns: the child's work item is never run.
        var error = Assert.Throws<ChildExitedException>(() => exchange.Finish());
        Assert.Equal(72, error.ExitCode);
        Assert.Contains("WaitsOnTheThreadPool", error.Message);
        Assert.Contains(error.Pid.ToString(), error.Message);
        Assert.Contains("thread pool", error.Message);
        Assert.Contains("rule 4", error.Message);
        exchange.Finish();
        Assert.Equal(["fine"], exchange.Results);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ParallelForInAChildOfAParentThatUsedThePoolFailsFastToo() =>
        IsolatedProcess.Passes(ParallelForScenario);

    private static void ParallelForScenario()
    {
        Parallel.For(0, 4, _ => { });
        var error = Assert.Throws<ChildExitedException>(() =>
            new[] { 1 }.PMap(n => Parallel.For(0, 100, _ => { }).IsCompleted, limit: 1).ToList());
        Assert.Equal(72, error.ExitCode);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void TaskRunInAChildOfAParentThatNeverUsedThePoolWorks() =>
        IsolatedProcess.Passes(ParentNeverUsedThePoolScenario);

    private static void ParentNeverUsedThePoolScenario()
    {
        // A scenario process runs on its main thread only: nothing has started a pool thread yet.
        Assert.Equal(0, ThreadPool.ThreadCount);
        using var exchange = new Collecting(limit: 2);
        exchange.Start(WaitsOnTheThreadPool);
        exchange.Start(c => c.Send(Parallel.For(0, 100, _ => { }).IsCompleted));
        exchange.Finish();
        Assert.Equal(2, exchange.Results.Count);
        Assert.Contains(42, exchange.Results);
        Assert.Contains(true, exchange.Results);
        Assert.Equal(0, ThreadPool.ThreadCount);
    }

    [Fact]
    public void AChildThatUsesNoPoolIsNotDisturbedByTheWatcher() => IsolatedProcess.Passes(QuietChildScenario);

    private static void QuietChildScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        // Each child outlives several of the watcher's checks with nothing queued, then answers.
        var results = Enumerable.Range(0, 4).PMap(i =>
        {
            Thread.Sleep(Runtime.ThreadPoolWatch.Interval * (Runtime.ThreadPoolWatch.StrikesToFail + 2));
            return i * i;
        }, limit: 4).ToList();
        Assert.Equal([0, 1, 4, 9], results);
    }
}
