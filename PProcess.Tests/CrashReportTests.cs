using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Every crash explained: the error for a child that died quotes what it last wrote to its standard
/// error, every time, however soon the parent reaps it (docs/reliability.md). Each kind of crash is
/// made 20 times in a worker pool under load (other threads submitting jobs all along); a kill in a
/// PMap too. On 4624e1d: FailFast 19 of 20 (the quote without its message), an exception on another
/// thread 19 of 20, SIGKILL 0 of 20 (its standard error was not quoted at all).
/// </summary>
public class CrashReportTests
{
    private const int Times = 20;

    public enum Crash { FailFast, StackOverflow, OtherThread, Killed }

    [Theory]
    [InlineData(Crash.FailFast)]
    [InlineData(Crash.StackOverflow)]
    [InlineData(Crash.OtherThread)]
    [InlineData(Crash.Killed)]
    public void APoolWorkersCrashIsExplainedByItsStandardErrorTwentyTimesOutOfTwenty(Crash crash)
    {
        var result = IsolatedProcess.Run(crash switch
        {
            Crash.FailFast => PoolFailFast,
            Crash.StackOverflow => PoolStackOverflow,
            Crash.OtherThread => PoolOtherThread,
            _ => PoolKilled,
        }, timeout: TimeSpan.FromMinutes(4)).AssertSucceeded();
        Assert.Contains($"explained {Times} of {Times}", result.Output);
    }

    [Fact]
    public void APMapChildKilledAfterWritingIsExplainedByItsLastLineTwentyTimesOutOfTwenty()
    {
        var result = IsolatedProcess.Run(MapKilled, timeout: TimeSpan.FromMinutes(4)).AssertSucceeded();
        Assert.Contains($"explained {Times} of {Times}", result.Output);
    }

    private static void PoolFailFast() => InPool(Crash.FailFast);

    private static void PoolStackOverflow() => InPool(Crash.StackOverflow);

    private static void PoolOtherThread() => InPool(Crash.OtherThread);

    private static void PoolKilled() => InPool(Crash.Killed);

    private static void MapKilled() => InMap(Crash.Killed);

    /// <summary>What the child writes last, by crash, and what the parent's error must quote.</summary>
    private static string Expected(Crash crash, int n) => crash switch
    {
        Crash.FailFast => $"Process terminated. fail fast {n}",
        Crash.StackOverflow => "Stack overflow.",
        Crash.OtherThread => $"the other thread failed {n}",
        _ => $"last words {n}",
    };

    private static int Die(Crash crash, int n)
    {
        switch (crash)
        {
            case Crash.FailFast:
                Environment.FailFast($"fail fast {n}");
                break;
            case Crash.StackOverflow:
                return Recurse(n);
            case Crash.OtherThread:
                new Thread(() => throw new InvalidOperationException($"the other thread failed {n}")).Start();
                Thread.Sleep(Timeout.Infinite);
                break;
            default:
                Console.Error.WriteLine($"last words {n}");
                Syscall.kill(Environment.ProcessId, Signum.SIGKILL);
                Thread.Sleep(Timeout.Infinite);
                break;
        }
        return n;
    }

    private static int Recurse(int n) => n == int.MinValue ? 0 : Recurse(n + 1) + 1;

    private static int Small(int x) => x + 1;

    private static void InPool(Crash crash)
    {
        using var pool = new WorkerPool(new WorkerPoolOptions { Workers = 2 });
        using var stop = new CancellationTokenSource();
        // The load: two threads submitting small jobs all along, as a busy server would.
        var load = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await pool.SubmitAsync(Small, 1);
                }
                catch (ChildProcessException)
                {
                    // A job that a crashing worker had taken with it.
                }
            }
        })).ToArray();
        int explained = 0;
        var unexplained = new List<string>();
        for (int n = 0; n < Times; n++)
        {
            var error = Assert.ThrowsAny<ChildProcessException>(() => pool.Run(DieJob, (crash, n)));
            if (error.Message.Contains(Expected(crash, n), StringComparison.Ordinal))
            {
                explained++;
            }
            else
            {
                unexplained.Add(error.Message);
            }
        }
        stop.Cancel();
        Task.WaitAll(load);
        Console.WriteLine($"explained {explained} of {Times}");
        Assert.True(unexplained.Count == 0, string.Join("\n", unexplained));
    }

    private static int DieJob((Crash Crash, int N) job) => Die(job.Crash, job.N);

    private static void InMap(Crash crash)
    {
        int explained = 0;
        var unexplained = new List<string>();
        for (int n = 0; n < Times; n++)
        {
            int round = n;
            var error = Assert.Throws<ChildExitedException>(() =>
                Enumerable.Range(0, 4).PMap(k => k == 2 ? Die(crash, round) : k, new PMapOptions { Limit = 2 }).ToList());
            if (error.Message.Contains(Expected(crash, n), StringComparison.Ordinal))
            {
                explained++;
            }
            else
            {
                unexplained.Add(error.Message);
            }
        }
        Console.WriteLine($"explained {explained} of {Times}");
        Assert.True(unexplained.Count == 0, string.Join("\n", unexplained));
    }
}
