using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>The exchange's poll loop: limits, queueing, reaping, descriptors.</summary>
public abstract class ExchangeTests : TransportScenarios
{
    /// <summary>Each child reports how many children its parent has at that moment (itself included).</summary>
    private static void CountSiblings(Channel channel, int job) =>
        channel.Send(new[] { job, ProcFs.Children(Syscall.getppid()).Length });

    private sealed class SiblingCounter(int limit) : Exchange(limit: limit)
    {
        public int MostAlive;
        public readonly HashSet<int> Jobs = [];

        protected override void StoreData(Channel channel)
        {
            var report = channel.Receive<int[]>();
            Assert.True(Jobs.Add(report[0]), $"job {report[0]} reported twice");
            MostAlive = Math.Max(MostAlive, report[1]);
        }
    }

    [Fact]
    public void AThousandChildrenWithLimitFourLeaveNoZombieNoDescriptorAndNeverExceedTheLimit() =>
        Passes(ThousandChildrenScenario);

    private static void ThousandChildrenScenario()
    {
        using (var warmUp = new SiblingCounter(4))
        {
            warmUp.Start(CountSiblings, -1);
            warmUp.Finish();
        }
        var before = ProcFs.OpenDescriptors();
        var mappings = ProcFs.SharedAnonymousMappings();
        var exchange = new SiblingCounter(4);
        for (int job = 0; job < 1000; job++)
        {
            exchange.Start(CountSiblings, job);
            Assert.True(exchange.Active().Count <= 4, $"{exchange.Active().Count} children active");
        }
        exchange.Finish();
        Assert.Equal(1000, exchange.Jobs.Count);
        Assert.InRange(exchange.MostAlive, 1, 4);
        Assert.Empty(ProcFs.Children(Environment.ProcessId));
        Assert.True(ProcFs.NoChildrenLeft(), "a child was left unreaped");
        Assert.Equal(before, ProcFs.OpenDescriptors());
        // Over shared memory, each channel's region is unmapped with it.
        Assert.Equal(mappings, ProcFs.SharedAnonymousMappings());
        exchange.Dispose();
    }

    [Fact]
    public void StartReturnsAtOnceWhenBusyAndQueuesTheJob() => Passes(QueueingScenario);

    private static void QueueingScenario()
    {
        using var exchange = new Collecting(limit: 1);
        exchange.Start(c =>
        {
            // Blocks until the parent has queued the second job and released it.
            c.Receive<string>();
            c.Send("first");
        });
        var first = Assert.Single(exchange.Active());
        exchange.Start(c => c.Send("second"));
        Assert.Single(exchange.Active());
        Assert.True(exchange.Busy());
        Assert.True(exchange.Unfinished());
        first.Send("go");
        exchange.Finish();
        Assert.Equal(["first", "second"], exchange.Results);
    }

    [Fact]
    public void CreateNeverRunsMoreChildrenThanTheLimit() => Passes(CreateLimitScenario);

    private static void CreateLimitScenario()
    {
        using var exchange = new Collecting(limit: 3);
        for (int i = 0; i < 30; i++)
        {
            var channel = exchange.Create();
            if (channel is not null)
            {
                channel.Send(ProcFs.Children(Syscall.getppid()).Length);
                Fork.Exit(channel);
            }
            Assert.True(exchange.Active().Count <= 3);
        }
        exchange.Finish();
        Assert.Equal(30, exchange.Results.Count);
        Assert.All(exchange.Results, alive => Assert.InRange((int)alive!, 1, 3));
    }

    [Fact]
    public void ReadyReturnsChannelsWithDataAndRemovedListsEndedChildren() => Passes(ReadyScenario);

    private static void ReadyScenario()
    {
        using var exchange = new Exchange(limit: 2);
        exchange.Add(Fork.Start(c => c.Send(7)));
        var ready = exchange.Ready(TimeSpan.FromSeconds(30));
        var channel = Assert.Single(ready);
        Assert.Equal(7, channel.Receive<int>());
        // Next, the end of the child: it is removed, not returned.
        while (exchange.Active().Count > 0)
        {
            Assert.Empty(exchange.Ready(TimeSpan.FromSeconds(30)));
        }
        Assert.Contains(channel, exchange.Removed);
        Assert.True(channel.Status?.Succeeded);
        Assert.Empty(exchange.Ready(TimeSpan.Zero));
    }

    [Fact]
    public void ManageStartsTheCallableOnEachCall() => Passes(ManageScenario);

    private static void Square(Channel channel, int x) => channel.Send(x * x);

    private static void ManageScenario()
    {
        using var exchange = new Collecting(limit: 2);
        var square = exchange.Manage<int>(Square);
        for (int i = 0; i < 6; i++)
        {
            square(i);
        }
        exchange.Finish();
        Assert.Equal([0, 1, 4, 9, 16, 25], exchange.Results.Cast<int>().Order());
    }

    [Fact]
    public void DisposingAnExchangeKillsAndReapsItsChildren() => Passes(DisposeScenario);

    private static void DisposeScenario()
    {
        var exchange = new Collecting(limit: 3);
        for (int i = 0; i < 5; i++)
        {
            exchange.Start(c => Thread.Sleep(TimeSpan.FromMinutes(5)));
        }
        Assert.Equal(3, exchange.Active().Count);
        exchange.Dispose();
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.Throws<ObjectDisposedException>(() => exchange.Start(c => { }));
    }
}

/// <summary>The exchange tests over socketpairs.</summary>
public sealed class ExchangeTestsOverSockets : ExchangeTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.Socket;
}

/// <summary>The exchange tests over shared memory.</summary>
public sealed class ExchangeTestsOverSharedMemory : ExchangeTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.SharedMemory;
}
