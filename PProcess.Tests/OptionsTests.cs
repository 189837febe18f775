using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>
/// Options are read once, at the call (as System.Threading.Channels' are): changing the object
/// afterwards, or reusing it for the next call, changes nothing already made.
/// </summary>
public class OptionsTests
{
    [Fact]
    public void APMapReadsItsOptionsWhenCalledNotWhenEnumerated()
    {
        var options = new PMapOptions { Limit = 2 };
        var squares = Enumerable.Range(0, 4).PMap(x => { Thread.Sleep(300); return x * x; }, options);
        // The map starts when it is enumerated; a timeout set after the call must not reach it.
        options.JobTimeout = TimeSpan.FromMilliseconds(20);
        Assert.Equal([0, 1, 4, 9], squares.ToArray());
    }

    [Fact]
    public void APoolReadsItsOptionsOnceAtConstruction() => IsolatedProcess.Passes(PoolScenario);

    private static void PoolScenario()
    {
        var options = new WorkerPoolOptions { Workers = 1, ReplaceDeadWorkers = true };
        using var pool = new WorkerPool(options);
        options.ReplaceDeadWorkers = false;
        options.Workers = 5;
        int first = pool.Run(Pid, 0);
        Assert.Throws<ChildExitedException>(() => pool.Run(Die, 0));
        // Replaced, as the pool was made to: with the caller's later false, the next job would fail instead.
        Eventually.True(() => pool.Replacements == 1, "the dead worker's replacement", between: () => Thread.Sleep(5));
        Assert.NotEqual(first, pool.Run(Pid, 0));
        Assert.Equal(1, pool.Size);
    }

    private static int Pid(int unused) => Environment.ProcessId;

    private static int Die(int unused)
    {
        Environment.FailFast("a worker dies");
        return 0;
    }

    [Fact]
    public void APersistentExchangeReadsItsOptionsOnceAtConstruction()
    {
        var options = new PersistentExchangeOptions { LogPath = "/tmp/first.log" };
        using var exchange = new PersistentExchange(options);
        options.LogPath = "/tmp/second.log";
        options.Serializer = Serialization.MemoryPackChannelSerializer.Instance;
        Assert.Equal("/tmp/first.log", exchange.LogPath);
        Assert.Same(Serialization.DefaultChannelSerializer.Instance, exchange.Serializer);
    }
}
