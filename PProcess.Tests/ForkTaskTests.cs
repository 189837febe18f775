using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>Awaitable forks: ForkTask.Run completes from the child's result, composes with WhenAll, carries the child's stack.</summary>
public class ForkTaskTests
{
    private static long SumTo(int n)
    {
        long sum = 0;
        for (int i = 1; i <= n; i++)
        {
            sum += i;
        }
        return sum;
    }

    private static int Explode(int x) => throw new ArgumentException($"cannot take {x}");

    [Fact]
    public void AwaitedForksRunInChildrenComposeWithWhenAllAndForkAgainAfterAnAwait() => IsolatedProcess.Passes(AwaitScenario);

    private static void AwaitScenario() => AwaitScenarioAsync().GetAwaiter().GetResult();

    private static async Task AwaitScenarioAsync()
    {
        int parent = Environment.ProcessId;
        var table = Enumerable.Range(0, 1000).ToArray();    // the children see it without a copy
        var tasks = Enumerable.Range(1, 4).Select(k => ForkTask.Run(() => (Sum: table.Take(k * 100).Sum(), Pid: Environment.ProcessId))).ToArray();
        var results = await Task.WhenAll(tasks);
        Assert.Equal(Enumerable.Range(1, 4).Select(k => Enumerable.Range(0, k * 100).Sum()), results.Select(r => r.Sum));
        Assert.Equal(4, results.Select(r => r.Pid).Distinct().Count());
        Assert.DoesNotContain(parent, results.Select(r => r.Pid));
        // After an await the code runs on a thread-pool thread: forking there works too (the pool's other threads sleep).
        Assert.Equal(SumTo(1000), await ForkTask.Run(() => SumTo(1000)));
        // The IO-bound variant runs on a thread of this process.
        Assert.Equal(parent, await ForkTask.RunOnThread(() => Environment.ProcessId));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AnAwaitedForkRaisesTheChildsExceptionWithItsStackOrItsDeath() => IsolatedProcess.Passes(FailureScenario);

    private static void FailureScenario() => FailureScenarioAsync().GetAwaiter().GetResult();

    private static async Task FailureScenarioAsync()
    {
        var e = await Assert.ThrowsAsync<RemoteException>(() => ForkTask.Run(() => Explode(7)));
        Assert.Equal(typeof(ArgumentException).FullName, e.RemoteType);
        Assert.Contains("cannot take 7", e.RemoteMessage);
        Assert.Contains(nameof(Explode), e.RemoteStackTrace);
        var died = await Assert.ThrowsAsync<ChildExitedException>(() => ForkTask.Run(() =>
        {
            Syscall.kill(Environment.ProcessId, Signum.SIGKILL);
            return 0;
        }));
        Assert.Equal(9, died.Signal);
        var io = await Assert.ThrowsAsync<IOException>(() => ForkTask.RunOnThread<int>(() => throw new IOException("disk gone")));
        Assert.Equal("disk gone", io.Message);
    }

    [Fact]
    public void InAChildBothVariantsCompleteWithoutAThreadPool() => IsolatedProcess.Passes(ChildScenario);

    private static void ChildScenario()
    {
        using var channel = Fork.Start(c =>
        {
            // The child has no thread pool (fork-safety rule 4): a completion that needed it would hang here.
            int onThread = ForkTask.RunOnThread(() => 20).GetAwaiter().GetResult();
            var grandchildren = Task.WhenAll(ForkTask.Run(() => 10), ForkTask.Run(() => 12));
            c.Send(onThread + grandchildren.GetAwaiter().GetResult().Sum());
        });
        Assert.Equal(42, channel.Receive<int>());
    }
}
