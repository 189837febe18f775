using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>The examples of the pool and of awaitable forks run as a user runs them and print what they claim.</summary>
public class SeedExampleTests
{
    [Fact]
    public void WorkerPoolExampleMatchesTheSequentialResultAndReplacesAKilledWorker()
    {
        var output = ExampleRunner.Passes("worker_pool", "--limit", "2", "--delay", "0.001", "--kill");
        Assert.Contains(string.Join(", ", Enumerable.Range(0, 20)), output);
        Assert.Contains(string.Join(",", Enumerable.Range(0, 100)), output);
        Assert.Matches(@"same result: True; load per core \d+\.\d\d; path: pool", output);
        Assert.Matches(@"job failed as expected: child process \d+ \(job WorkerPoolExample\.Die\) was killed by signal 9", output);
        Assert.Matches(@"replacement: forked \d+\.\d ms after the kill", output);
    }

    [Fact]
    public void WorkerPoolExampleUsesThePoolWhenTheLoadGuardAllowsIt()
    {
        // The guard's refusal is tested on given readings (WorkerPoolTests): the machine's own load is not under a test's control.
        var output = ExampleRunner.Passes("worker_pool", "--limit", "1", "--delay", "0", "--max-load", "1000000");
        Assert.Contains("path: pool", output);
    }

    [Fact]
    public void ForkTaskExampleComputesTheSameThumbnailsAndRaisesTheChildsException()
    {
        var output = ExampleRunner.Passes("fork_task", "--limit", "2", "--delay", "0.01");
        Assert.Contains("thumbnails equal: True", output);
        Assert.Matches(@"cpu-bound: sequential \d+\.\d ms, ForkTask\.Run \d+\.\d ms, ratio \d+\.\d\dx", output);
        Assert.Contains("io-bound: meta0 meta1 in", output);
        Assert.Contains("raises System.DivideByZeroException with the child's stack", output);
        Assert.Contains("ForkTaskExample", output);
    }

    [Fact]
    public void PipelineBusyExampleKeepsTheOrderInBothDesigns()
    {
        var output = ExampleRunner.Passes("pipeline_busy");
        Assert.Matches(@"pre-forked pipeline: first result \d+\.\d ms, all \d+\.\d ms, in order: True", output);
        Assert.Matches(@"fork per job: +first result \d+\.\d ms, all \d+\.\d ms, in order: True; fork waited median", output);
    }
}
