using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// A child is a complete .NET process (docs/fork-safety.md, "The child's runtime"): forked from a
/// parent shaped like the programs users write (a sync Main that used Task.Run, an async Main that
/// awaited and so calls PMap from a pool thread, four threads calling PMap at once, an ASP.NET Core
/// host), children allocate and collect, and use the thread pool, Parallel, PLINQ, timers and
/// blocking tasks that need the pool to inject threads, with the same results as in the parent.
/// </summary>
public class ThreadPoolInChildTests
{
    /// <summary>What <see cref="ChildBattery.Run"/> returns when everything works.</summary>
    private const string AllWorks = "collected=200MB run=42 parallel=500500 plinq=500500 delay=done timer=3 blocked=8";

    [Fact]
    public void ChildrenOfASyncMainThatUsedTaskRunHaveAWorkingRuntime() => IsolatedProcess.Passes(SyncMainScenario);

    private static void SyncMainScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        Assert.True(ThreadPool.ThreadCount > 0);
        var results = Enumerable.Range(0, 3).PMap(_ => ChildBattery.Run(), limit: 2).ToList();
        Assert.All(results, r => Assert.Equal(AllWorks, r));
        Assert.Equal(AllWorks, ChildBattery.Run()); // the parent is unharmed
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildrenOfAnAsyncMainCallingPMapFromAPoolThreadHaveAWorkingRuntime() => IsolatedProcess.Passes(AsyncMainScenario);

    // What the compiler makes of an async Main: the body runs until its first await, and the
    // entry point waits for it; the rest runs on pool threads.
    private static void AsyncMainScenario() => AsyncMain().GetAwaiter().GetResult();

    private static async Task AsyncMain()
    {
        await Task.Delay(20);
        await Task.Yield();
        Assert.True(Thread.CurrentThread.IsThreadPoolThread);
        // The child's own thread is a pool worker too ('.NET TP Worker'): its pool must still start workers.
        var results = Enumerable.Range(0, 3).PMap(_ => ChildBattery.Run(), limit: 2).ToList();
        Assert.All(results, r => Assert.Equal(AllWorks, r));
        var nested = Enumerable.Range(0, 2).PMap(i => Task.Run(async () => { await Task.Yield(); return i * 2; }).Result, limit: 2).ToList();
        Assert.Equal([0, 2], nested);
        await Task.Delay(1);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildrenOfFourThreadsCallingPMapAtOnceHaveAWorkingRuntime() => IsolatedProcess.Passes(FourThreadsScenario);

    private static void FourThreadsScenario()
    {
        Parallel.For(0, 8, _ => Thread.SpinWait(1000));
        var results = new List<string>[4];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            results[t] = Enumerable.Range(0, 2).PMap(_ => ChildBattery.Run(), limit: 2).ToList())).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(results, list => Assert.Equal([AllWorks, AllWorks], list));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ACreateChildOfAPoolThreadAndGrandchildrenOfAChildHaveAWorkingRuntime() => IsolatedProcess.Passes(NestedScenario);

    private static void NestedScenario() => NestedAsync().GetAwaiter().GetResult();

    private static async Task NestedAsync()
    {
        await Task.Yield();
        Assert.True(Thread.CurrentThread.IsThreadPoolThread);
        // A Create child made on a pool worker: the forking thread is the child's one pool worker.
        using (var channel = Fork.Create())
        {
            if (channel.IsChild)
            {
                channel.Send(ChildBattery.Run());
                Fork.Exit(channel);
            }
            Assert.Equal(AllWorks, channel.Receive<string>());
            channel.Wait();
        }
        // A child whose pool was repaired forks grandchildren, whose pool is repaired again.
        var nested = new[] { 0 }.PMap(_ =>
        {
            Assert.Equal(7, Task.Run(() => 7).Result);
            return string.Join("|", Enumerable.Range(0, 2).PMap(__ => ChildBattery.Run(), limit: 2));
        }, limit: 1).Single();
        Assert.Equal($"{AllWorks}|{AllWorks}", nested);
    }

    [Fact]
    public void FourThreadsUsingPMapExchangeMapAndAWorkerPoolAtOnceGetEveryResult() => IsolatedProcess.Passes(MixedThreadsScenario);

    private static int Cube(int x) => x * x * x;

    private static void MixedThreadsScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        var expected = Enumerable.Range(0, 30).Select(Cube).ToArray();
        int[]? viaPMap = null, viaMap = null, viaPool = null;
        List<object?>? viaExchange = null;
        var threads = new[]
        {
            new Thread(() => viaPMap = Enumerable.Range(0, 30).PMap(Cube, limit: 2).ToArray()),
            new Thread(() =>
            {
                using var map = new Map<int>(limit: 2);
                var job = map.Manage(Exchange.MakeParallel<int, int>(Cube));
                for (int i = 0; i < 30; i++)
                {
                    job(i);
                }
                viaMap = [.. map];
            }),
            new Thread(() =>
            {
                using var exchange = new Collecting(limit: 2);
                for (int i = 0; i < 30; i++)
                {
                    int n = i;
                    exchange.Start(c => c.Send(Cube(n)));
                }
                exchange.Finish();
                viaExchange = exchange.Results;
            }),
            new Thread(() =>
            {
                using var pool = new WorkerPool(new WorkerPoolOptions { Workers = 2 });
                viaPool = pool.Map<int, int>(Cube, Enumerable.Range(0, 30));
            }),
        };
        foreach (var thread in threads)
        {
            thread.Start();
        }
        foreach (var thread in threads)
        {
            thread.Join();
        }
        Assert.Equal(expected, viaPMap);
        Assert.Equal(expected, viaMap);
        Assert.Equal(expected, viaPool);
        Assert.Equal(expected, viaExchange!.Cast<int>().Order());
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildrenOfAnAspNetCoreHostHaveAWorkingRuntime() => IsolatedProcess.Passes(AspNetCoreScenario);

    private static void AspNetCoreScenario() => AspNetCoreHost().GetAwaiter().GetResult();

    private static async Task AspNetCoreHost()
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        // A request thread calls PMap, with Kestrel's threads, its socket engine and its timers around it.
        Microsoft.AspNetCore.Builder.EndpointRouteBuilderExtensions.MapGet(app, "/battery",
            () => string.Join("\n", Enumerable.Range(0, 2).PMap(_ => ChildBattery.Run(), limit: 2)));
        await app.StartAsync();
        var address = app.Urls.Single();
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
        var body = await http.GetStringAsync(address + "/battery");
        Assert.Equal($"{AllWorks}\n{AllWorks}", body);
        await app.StopAsync();
    }

    [Fact]
    public void AChildOfAParentThatUsedSocketsCanUseAsyncSocketsOfItsOwn() => IsolatedProcess.Passes(SocketsScenario);

    private static void SocketsScenario()
    {
        Assert.True(SocketEcho().Result); // the parent's socket engine and its thread exist now
        var results = Enumerable.Range(0, 2).PMap(_ => SocketEcho().Result, limit: 2).ToList();
        Assert.Equal([true, true], results);
        Assert.True(SocketEcho().Result);
    }

    private static async Task<bool> SocketEcho()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepting = listener.AcceptTcpClientAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await accepting;
        byte[] sent = [1, 2, 3, 4, 5], echoed = new byte[5], back = new byte[5];
        await client.GetStream().WriteAsync(sent);
        await server.GetStream().ReadExactlyAsync(echoed);
        await server.GetStream().WriteAsync(echoed);
        await client.GetStream().ReadExactlyAsync(back);
        return back.SequenceEqual(sent);
    }

    [Fact]
    public void AChildStarvedOfPoolThreadsGetsThemInjectedByItsGateThread() => IsolatedProcess.Passes(StarvationScenario);

    private static void StarvationScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        // Eight tasks block in a wait the pool cannot see (not Task.Wait): only the gate thread's
        // starvation injection, one thread per half second, lets the ninth run.
        var result = new[] { 0 }.PMap(_ =>
        {
            using var gate = new ManualResetEventSlim(false);
            var tasks = new Task<int>[9];
            for (int i = 0; i < 8; i++)
            {
                tasks[i] = Task.Run(() => { gate.Wait(); return 1; });
            }
            tasks[8] = Task.Run(() => { gate.Set(); return 0; });
            return Task.WhenAll(tasks).Wait(TimeSpan.FromSeconds(60)) ? tasks.Sum(t => t.Result) : -1;
        }, limit: 1).Single();
        Assert.Equal(8, result);
    }

    [Fact]
    public void TimersAndWorkOfTheParentDoNotRunInTheChild() => IsolatedProcess.Passes(InheritedTimersScenario);

    private static void InheritedTimersScenario()
    {
        // A parent's timer and a pending delay, both due while the child runs: they are the
        // parent's program, and must not run in the child (its pending await must not resume there).
        int parentTicks = 0;
        using var timer = new Timer(_ => Interlocked.Increment(ref parentTicks), null, 50, 50);
        var marker = Path.Combine(Path.GetTempPath(), $"pprocess-inherited-{Environment.ProcessId}");
        var delayed = Task.Delay(100).ContinueWith(_ => File.AppendAllText(marker, $"{Environment.ProcessId}\n"));
        var seen = new[] { 0 }.PMap(_ =>
        {
            int before = Volatile.Read(ref parentTicks);
            // The child's own timer works, and is the clock of the absence: 30 of its ticks, 10 ms apart
            // on the child's timer queue, span six periods of the parent's timer and its 100 ms delay, so
            // a timer of the parent's still queued in the child would have run meanwhile.
            int own = 0;
            using var mine = new Timer(_ => Interlocked.Increment(ref own), null, 10, 10);
            var clock = Stopwatch.StartNew();
            while (Volatile.Read(ref own) < 30 && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(5);
            }
            int parentsInChild = Volatile.Read(ref parentTicks) - before;
            return $"parent's timer ticked {parentsInChild} times, the child's own {Math.Min(Volatile.Read(ref own), 30)}";
        }, limit: 1).Single();
        delayed.Wait();
        Assert.Equal("parent's timer ticked 0 times, the child's own 30", seen);
        Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(marker));
        File.Delete(marker);
    }

    [Fact]
    public void TaskRunInAChildOfAParentThatNeverUsedThePoolWorks() => IsolatedProcess.Passes(ParentNeverUsedThePoolScenario);

    private static void ParentNeverUsedThePoolScenario()
    {
        // A scenario process runs on its main thread only: nothing has started a pool thread yet.
        Assert.Equal(0, ThreadPool.ThreadCount);
        var results = Enumerable.Range(0, 2).PMap(_ => ChildBattery.Run(), limit: 2).ToList();
        Assert.All(results, r => Assert.Equal(AllWorks, r));
        Assert.Equal(0, ThreadPool.ThreadCount);
    }
}

/// <summary>What a child's program commonly does with the runtime; each step bounded, so a broken one reports instead of hanging.</summary>
internal static class ChildBattery
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    internal static string Run()
    {
        var parts = new List<string>
        {
            "collected=" + AllocateAndCollect(),
            "run=" + Bounded(Task.Run(() => 42)),
        };
        long sum = 0;
        Parallel.For(1, 1001, i => Interlocked.Add(ref sum, i));
        parts.Add("parallel=" + sum);
        parts.Add("plinq=" + Enumerable.Range(1, 1000).AsParallel().Sum());
        parts.Add("delay=" + Bounded(Delayed()));
        parts.Add("timer=" + TimerTicks());
        parts.Add("blocked=" + BlockedUntilANinthRuns());
        return string.Join(" ", parts);
    }

    private static string AllocateAndCollect()
    {
        var arrays = new List<byte[]>();
        for (int i = 0; i < 200; i++)
        {
            arrays.Add(new byte[1 << 20]);
        }
        long total = arrays.Sum(a => (long)a.Length);
        arrays.Clear();
        GC.Collect();
        GC.Collect();
        return $"{total >> 20}MB";
    }

    private static async Task<string> Delayed()
    {
        await Task.Delay(30);
        return "done";
    }

    private static string Bounded<T>(Task<T> task) => task.Wait(Bound) ? $"{task.Result}" : "TIMEOUT";

    private static int TimerTicks()
    {
        int ticks = 0;
        using var enough = new ManualResetEventSlim(false);
        using var timer = new Timer(_ =>
        {
            if (Interlocked.Increment(ref ticks) == 3)
            {
                enough.Set();
            }
        }, null, 10, 10);
        return enough.Wait(Bound) ? 3 : -Volatile.Read(ref ticks);
    }

    private static int BlockedUntilANinthRuns()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = new Task<int>[9];
        for (int i = 0; i < 8; i++)
        {
            tasks[i] = Task.Run(() => { release.Task.Wait(); return 1; });
        }
        tasks[8] = Task.Run(() => { release.SetResult(); return 0; });
        return Task.WhenAll(tasks).Wait(Bound) ? tasks.Sum(t => t.Result) : -1;
    }
}
