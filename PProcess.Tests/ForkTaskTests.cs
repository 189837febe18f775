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

    private static unsafe void WriteByte(int fd)
    {
        byte one = 1;
        Assert.Equal(1, Syscall.write(fd, &one, 1));
    }

    private static unsafe void ReadByte(int fd)
    {
        byte b;
        Assert.Equal(1, Syscall.read(fd, &b, 1));
    }

    [Fact]
    public void AForkedTaskOutlivesTheThreadThatStartedIt() => IsolatedProcess.Passes(ThreadExitScenario);

    /// <summary>
    /// PR_SET_PDEATHSIG fires when the thread that forked a child ends (fork-safety fact 15). A
    /// task started on a thread that ends (a retiring thread-pool thread, say) must still complete.
    /// </summary>
    private static void ThreadExitScenario()
    {
        var go = new int[2];
        var started = new int[2];
        Assert.Equal(0, Syscall.pipe(go));
        Assert.Equal(0, Syscall.pipe(started));
        Task<int>? task = null;
        var starter = new Thread(() =>
        {
            task = ForkTask.Run(() =>
            {
                WriteByte(started[1]);   // the child is past its start-up (and its prctl)
                ReadByte(go[0]);         // and waits until the starter thread has ended
                return 42;
            });
            ReadByte(started[0]);
        });
        starter.Start();
        starter.Join();
        WriteByte(go[1]);
        Assert.Equal(42, task!.GetAwaiter().GetResult());
        foreach (var fd in go.Concat(started))
        {
            Syscall.close(fd);
        }
    }

    [Fact]
    public void AChildOfFork_StartDiesWithTheThreadThatForkedIt() => IsolatedProcess.Passes(PDeathSigScenario);

    /// <summary>The measured fact behind ForkTask forking on its own thread (docs/fork-safety.md fact 15).</summary>
    private static void PDeathSigScenario()
    {
        Channel? channel = null;
        var starter = new Thread(() =>
        {
            channel = Fork.Start(c =>
            {
                c.Send("ready");
                c.Receive();             // the parent never sends: only a signal ends this child
            });
            Assert.Equal("ready", channel.Receive<string>());
        });
        starter.Start();
        starter.Join();
        // A guard against a hang, not a synchronisation: the kill follows the thread's exit at once.
        Assert.True(channel!.Poll(TimeSpan.FromSeconds(30)), "the child outlived the thread that forked it");
        var e = Assert.Throws<ChildExitedException>(() => channel.Receive());
        Assert.Equal(9, e.Signal);
        channel.Dispose();
    }

    [Fact]
    public void CancellingAForkedTaskKillsAndReapsTheChild() => IsolatedProcess.Passes(CancelScenario);

    private static void CancelScenario()
    {
        var started = new int[2];
        Assert.Equal(0, Syscall.pipe(started));
        using var cancel = new CancellationTokenSource();
        var task = ForkTask.Run(() =>
        {
            WriteByte(started[1]);
            Thread.Sleep(Timeout.Infinite);      // only a kill ends it
            return 0;
        }, cancel.Token);
        ReadByte(started[0]);
        cancel.Cancel();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => task.GetAwaiter().GetResult());
        Assert.Equal(cancel.Token, e.CancellationToken);
        Assert.True(task.IsCanceled);
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.True(ForkTask.Run(() => 1, cancel.Token).IsCanceled);   // already cancelled: nothing is forked
        Syscall.close(started[0]);
        Syscall.close(started[1]);
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
