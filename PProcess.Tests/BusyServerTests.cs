using PProcess.Examples.Programs;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Forks from a busy server (issue 20, "Busy servers"): work items the parent's pool had queued at
/// the fork belong to the parent; a child drops them and starts with an empty pool instead of
/// refusing the fork (docs/fork-safety.md, rule 4).
/// </summary>
public class BusyServerTests
{
    [Fact]
    // Most of these forks are made again until one falls between two of the timer thread's wakes
    // (rule 18), and each attempt copies the parent's page tables: on a machine whose cores are all
    // taken by other processes that took 3 min 45 s (load average 12; docs/fork-safety.md, "Busy
    // servers", has the figures of a quiet machine), past the 2-minute guard that tells a hang.
    public void AwaitedForksFromRequestLoopsWhileThePoolIsKeptBusyAllSucceed() =>
        IsolatedProcess.Run(BusyPoolScenario, timeout: TimeSpan.FromMinutes(10)).AssertSucceeded();

    private static void BusyPoolScenario()
    {
        // 8 request loops on pool threads, each awaiting 4 forks, while 4 tasks await Task.Delay(1)
        // in a loop: the pool has work queued at many of the forks. (The example's default, 16 x 10,
        // took 3 min 45 s at load 12 and more than 10 minutes at load 18 (main 95666ac), while
        // 8 x 5 took 1.0-1.1 s at load 11 and 14-23 s at load 12-14: the suite keeps it small.)
        // Latency is reported by the example (busy_forks, docs/fork-safety.md), not asserted here.
        // The timer thread wakes every millisecond, and a fork takes milliseconds: most forks are
        // made again because it ran during them (rule 18), until one falls in a quiet moment. On a
        // loaded machine that took longer than the default 5 s for one fork in 1 of 5 runs (docs/
        // fork-safety.md, "Busy servers"); this test is about the queued work, so it waits longer.
        Runtime.TestHooks.QuiescencePatience = TimeSpan.FromSeconds(60);
        var outcome = BusyForks.Measure(loops: 8, forks: 4, busy: 4);
        Assert.Equal(32, outcome.Latencies.Count);
        Assert.Equal(32, outcome.Succeeded);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void TheParentsQueuedWorkItemsAreDroppedInTheChildAndRunInTheParent() => IsolatedProcess.Passes(QueuedWorkScenario);

    private static void QueuedWorkScenario()
    {
        // Every pool thread is held, so work queued now stays queued, in the global queue and in
        // the workers' own (work-stealing) queues, while the main thread forks.
        int workers = Environment.ProcessorCount;
        ThreadPool.GetMinThreads(out _, out int minIo);
        ThreadPool.GetMaxThreads(out _, out int maxIo);
        Assert.True(ThreadPool.SetMinThreads(workers, minIo));
        Assert.True(ThreadPool.SetMaxThreads(workers, maxIo));
        var marker = Path.Combine(Path.GetTempPath(), $"pprocess-queued-{Environment.ProcessId}");
        void Mark(string where) => File.AppendAllText(marker, $"{where} {Environment.ProcessId}\n");
        using var release = new ManualResetEventSlim(false);
        int holding = 0;
        var holders = Enumerable.Range(0, workers).Select(worker => Task.Run(() =>
        {
            _ = Task.Run(() => Mark("local")); // queued on this worker's own queue (it is a pool thread)
            Interlocked.Increment(ref holding);
            release.Wait();
        })).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref holding) < workers && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(5);
        }
        Assert.Equal(workers, Volatile.Read(ref holding));
        const int global = 20;
        for (int i = 0; i < global; i++)
        {
            ThreadPool.QueueUserWorkItem(_ => Mark("global"));
        }
        Assert.True(ThreadPool.PendingWorkItemCount >= global, $"only {ThreadPool.PendingWorkItemCount} items queued");

        var seen = new[] { 0 }.PMap(_ =>
        {
            long pending = ThreadPool.PendingWorkItemCount;
            // The child's own pool works; an item queued last on its global queue (first in, first out) runs
            // after anything the child had inherited there, which would have written its line by then.
            int sum = Enumerable.Range(1, 20).Sum(i => Task.Run(() => i).Result);
            using var last = new ManualResetEventSlim();
            ThreadPool.QueueUserWorkItem(_ => last.Set());
            bool drained = last.Wait(TimeSpan.FromSeconds(30));
            return $"pending={pending} sum={sum} drained={drained}";
        }, limit: 1).Single();
        Assert.Equal("pending=0 sum=210 drained=True", seen);

        // The parent's work is the parent's: once its workers are free, all of it runs, here.
        release.Set();
        Task.WaitAll(holders);
        int expected = global + workers;
        deadline = DateTime.UtcNow.AddSeconds(30);
        while ((File.Exists(marker) ? File.ReadAllLines(marker).Length : 0) < expected && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(5);
        }
        var lines = File.ReadAllLines(marker);
        File.Delete(marker);
        Assert.Equal(expected, lines.Length);
        Assert.All(lines, line => Assert.EndsWith($" {Environment.ProcessId}", line));
        Assert.True(ProcFs.NoChildrenLeft());
    }
}
