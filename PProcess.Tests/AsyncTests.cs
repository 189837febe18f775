using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Asynchronous work: async selectors awaited in the children, PMapAsync over synchronous and
/// asynchronous sources with cancellation, ForkTask with async functions and a limit, and the
/// refusal of a task where a synchronous API expects a value. On 4624e1d
/// <c>PMap(async k => ...)</c> compiled as <c>PMap&lt;int, Task&lt;int&gt;&gt;</c> and failed in the
/// child with a System.Text.Json message about <c>ExecutionContext&amp;</c>; PMapAsync did not exist;
/// 16 <c>Task.WhenAll</c>'d forks ran 16 children at once.
/// </summary>
public class AsyncTests
{
    private static async ValueTask<int> Triple(int k)
    {
        await Task.Yield();
        return 3 * k;
    }

    [Fact]
    public void AnAsyncSelectorIsAwaitedInTheChildInBothModes() => IsolatedProcess.Passes(AsyncSelectorScenario);

    private static void AsyncSelectorScenario()
    {
        int parent = Environment.ProcessId;
        foreach (var mode in new[] { PMapMode.Adaptive, PMapMode.ForkPerElement })
        {
            var results = Enumerable.Range(0, 12).PMap(async k =>
            {
                await Task.Delay(2);                          // a timer and a continuation on the child's own pool
                return (Square: k * k, Pid: Environment.ProcessId);
            }, new PMapOptions { Limit = 2, Mode = mode }).ToList();
            Assert.Equal(Enumerable.Range(0, 12).Select(k => k * k), results.Select(r => r.Square));
            Assert.DoesNotContain(parent, results.Select(r => r.Pid));
        }
        // A method group returning ValueTask, and the limit overload.
        Assert.Equal([0, 3, 6], new[] { 0, 1, 2 }.PMap(Triple).ToList());
        Assert.Equal([1, 2], new[] { 1, 2 }.PMap(async k => { await Task.Yield(); return k; }, limit: 1).ToList());
        // A failure after an await is raised at its element, with the child's stack.
        var error = Assert.Throws<RemoteException>(() => Enumerable.Range(0, 4).PMap(async k =>
        {
            await Task.Yield();
            return k == 2 ? throw new InvalidOperationException($"no {k}") : k;
        }, limit: 2).ToList());
        Assert.Contains("no 2", error.Message);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ASynchronousApiGivenATaskRefusesItAtTheCallNamingAsync() => IsolatedProcess.Passes(RefusalScenario);

    private static void RefusalScenario()
    {
        // No value: Func<int, Task> binds to the synchronous PMap, whose result would be the task itself.
        var noValue = Assert.Throws<ArgumentException>(() => Enumerable.Range(0, 3).PMap(async k => await Task.Delay(k)));
        Assert.Contains("async", noValue.Message);
        Assert.Contains("Task", noValue.Message);
        var valueTask = Assert.Throws<ArgumentException>(() => { _ = ForkTask.Run(() => new ValueTask(Task.Delay(1))); });
        Assert.Contains("ValueTask", valueTask.Message);
        // An async void lambda where an Action is expected: the child would end at its first await.
        var asyncVoid = Assert.Throws<ArgumentException>(() => Fork.Start(async c => { await Task.Delay(1); c.Send(1); }));
        Assert.Contains("async void", asyncVoid.Message);
        Assert.Throws<ArgumentException>(() => Exchange.MakeParallel(async () => { await Task.Delay(1); return 1; }));
        using (var exchange = new Exchange())
        {
            Assert.Throws<ArgumentException>(() => exchange.Start(async c => { await Task.Delay(1); c.Send(1); }));
        }
        Assert.True(ProcFs.NoChildrenLeft()); // nothing was forked
    }

    private static async IAsyncEnumerable<int> Slowly(int count)
    {
        for (int k = 0; k < count; k++)
        {
            await Task.Delay(1);
            yield return k;
        }
    }

    [Fact]
    public void PMapAsyncYieldsInSourceOrderOverSynchronousAndAsynchronousSources() => IsolatedProcess.Passes(PMapAsyncScenario);

    private static void PMapAsyncScenario() => PMapAsyncScenarioAsync().GetAwaiter().GetResult();

    private static async Task PMapAsyncScenarioAsync()
    {
        int parent = Environment.ProcessId;
        var options = new PMapOptions { Limit = 2 };
        var fromList = new List<int>();
        await foreach (var r in Enumerable.Range(0, 40).ToArray().PMapAsync(k => k * 2, options))
        {
            fromList.Add(r);
        }
        Assert.Equal(Enumerable.Range(0, 40).Select(k => k * 2), fromList);

        var fromStream = new List<(int, int)>();
        await foreach (var r in Slowly(30).PMapAsync(async k => { await Task.Delay(k % 3); return (k + 1, Environment.ProcessId); }, options))
        {
            fromStream.Add(r);
        }
        Assert.Equal(Enumerable.Range(1, 30), fromStream.Select(r => r.Item1));
        Assert.DoesNotContain(parent, fromStream.Select(r => r.Item2));

        // ValueTask selectors, fork-per-element mode.
        var perElement = new List<int>();
        await foreach (var r in Slowly(6).PMapAsync(Triple, new PMapOptions { Limit = 2, Mode = PMapMode.ForkPerElement }))
        {
            perElement.Add(r);
        }
        Assert.Equal([0, 3, 6, 9, 12, 15], perElement);

        // A failure is raised at its element, after the results before it.
        var before = new List<int>();
        var failure = await Assert.ThrowsAsync<RemoteException>(async () =>
        {
            await foreach (var r in Enumerable.Range(0, 10).PMapAsync(k => k == 5 ? throw new InvalidOperationException("five") : k, options))
            {
                before.Add(r);
            }
        });
        Assert.Equal([0, 1, 2, 3, 4], before);
        Assert.Contains("five", failure.Message);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void PMapAsyncIsCancelledByItsTokenOrAnEarlyBreakAndLeavesNoChild() => IsolatedProcess.Passes(PMapAsyncCancelScenario);

    private static void PMapAsyncCancelScenario() => PMapAsyncCancelScenarioAsync().GetAwaiter().GetResult();

    private static async Task PMapAsyncCancelScenarioAsync()
    {
        var options = new PMapOptions { Limit = 2 };
        // The token given to PMapAsync.
        using (var cts = new CancellationTokenSource())
        {
            int seen = 0;
            var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in Enumerable.Range(0, 1000).PMapAsync(async k => { await Task.Delay(20); return k; }, options, cts.Token))
                {
                    if (++seen == 2)
                    {
                        cts.Cancel();
                    }
                }
            });
            Assert.Equal(cts.Token, e.CancellationToken);
            Assert.True(seen < 1000);
            Assert.True(ProcFs.NoChildrenLeft());
        }
        // The token given to WithCancellation, over an endless asynchronous source, cancelled while the consumer waits.
        using (var cts = new CancellationTokenSource())
        {
            int seen = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                await foreach (var _ in Endless().PMapAsync(k => { Thread.Sleep(k == 0 ? 0 : 50); return k; }, options).WithCancellation(cts.Token))
                {
                    if (++seen == 1)
                    {
                        cts.CancelAfter(TimeSpan.FromMilliseconds(30));
                    }
                }
            });
            Assert.True(ProcFs.NoChildrenLeft());
        }
        // A break: the enumeration ends, and its children with it.
        await foreach (var k in Enumerable.Range(0, 1000).PMapAsync(k => { Thread.Sleep(10); return k; }, options))
        {
            if (k == 3)
            {
                break;
            }
        }
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static async IAsyncEnumerable<int> Endless()
    {
        for (int k = 0; ; k++)
        {
            await Task.Yield();
            yield return k;
        }
    }

    [Fact]
    public void ForkTaskAwaitsAsyncFunctionsInTheChildAndKeepsToItsLimit() => IsolatedProcess.Passes(ForkTaskScenario);

    private static void ForkTaskScenario() => ForkTaskScenarioAsync().GetAwaiter().GetResult();

    /// <summary>How many children the parent has (alive or not yet reaped), seen from a child after a while.</summary>
    private static int Siblings()
    {
        Thread.Sleep(40);
        return ProcFs.Children(Syscall.getppid()).Length;
    }

    private static async Task ForkTaskScenarioAsync()
    {
        int parent = Environment.ProcessId;
        Assert.NotEqual(parent, await ForkTask.Run(async () => { await Task.Delay(5); return Environment.ProcessId; }));
        await ForkTask.Run(async () => await Task.Delay(5));
        var failed = await Assert.ThrowsAsync<RemoteException>(() => ForkTask.Run(async () =>
        {
            await Task.Yield();
            return int.Parse("not a number");
        }));
        Assert.Contains("FormatException", failed.Message);

        // 16 at once without options: at most the usable cores' worth of children alive.
        var seen = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => ForkTask.Run(Siblings)));
        Assert.True(seen.Max() <= Cores.Usable, $"{seen.Max()} children at once, {Cores.Usable} cores: {string.Join(",", seen)}");
        // With options: their limit, shared by the forks made with them.
        var two = new ForkTaskOptions { Limit = 2 };
        seen = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => ForkTask.Run(Siblings, two)));
        Assert.True(seen.Max() <= 2, string.Join(",", seen));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ForkTaskOptions { Limit = 0 });

        // A fork waiting for room is cancelled at once, and never made.
        var one = new ForkTaskOptions { Limit = 1 };
        using var stop = new CancellationTokenSource();
        var blocking = ForkTask.Run(() => { Thread.Sleep(Timeout.Infinite); return 0; }, one, stop.Token);
        using var waitingCancel = new CancellationTokenSource();
        var waiting = ForkTask.Run(() => 1, one, waitingCancel.Token);
        waitingCancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Single(ProcFs.Children(parent));
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => blocking);
        Assert.Equal(7, await ForkTask.Run(() => 7, one));
        Assert.True(ProcFs.NoChildrenLeft());
    }
}
