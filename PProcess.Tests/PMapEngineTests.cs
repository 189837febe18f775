using System.Collections.ObjectModel;
using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// PMap's default engine (<see cref="PMapMode.Adaptive"/>): at most Limit children per map, chunks
/// whose size adapts, lists handed over as index ranges, and each failure (an exception, a child
/// that dies or runs past the timeout, a result that cannot be sent, the source's own exception)
/// raised at its element after the results before it.
/// </summary>
public abstract class PMapEngineTests : TransportScenarios
{
    /// <summary>The pids of the children that computed a map's results.</summary>
    private static int[] Pids(IEnumerable<(int Value, int Pid)> results) => results.Select(r => r.Pid).Distinct().ToArray();

    private static (int Value, int Pid) Twice(int x) => (2 * x, Environment.ProcessId);

    [Fact]
    public void TheDefaultForksAtMostLimitChildrenForTenThousandElements() => Passes(AtMostLimitScenario);

    private static void AtMostLimitScenario()
    {
        var expected = Enumerable.Range(0, 10_000).Select(x => 2 * x).ToList();
        var sources = new (string Name, IEnumerable<int> Source)[]
        {
            ("array", Enumerable.Range(0, 10_000).ToArray()),
            ("list", Enumerable.Range(0, 10_000).ToList()),
            ("IList", new Collection<int>(Enumerable.Range(0, 10_000).ToList())),
            ("lazy", Enumerable.Range(0, 10_000)),
            ("generator", Generate(10_000)),
        };
        foreach (var (name, source) in sources)
        {
            foreach (var options in new[] { new PMapOptions(), new PMapOptions { Limit = 3 } })
            {
                var results = source.PMap(Twice, options).ToList();
                Assert.Equal(expected, results.Select(r => r.Value));
                var pids = Pids(results);
                Assert.InRange(pids.Length, 1, options.Limit ?? Cores.Usable);
                Assert.DoesNotContain(Environment.ProcessId, pids);
                Assert.True(ProcFs.NoChildrenLeft(), $"children left ({name})");
            }
        }
    }

    private static IEnumerable<int> Generate(int count)
    {
        for (int i = 0; i < count; i++)
        {
            yield return i;
        }
    }

    private static int SlowSquare(int x)
    {
        Thread.Sleep(new Random(x).Next(0, 3));
        return x * x;
    }

    [Fact]
    public void ResultsAreInSourceOrderUnderRandomDelaysWithTheDefaultOptions() => Passes(RandomDelaysScenario);

    private static void RandomDelaysScenario()
    {
        var expected = Enumerable.Range(0, 400).Select(x => x * x).ToList();
        Assert.Equal(expected, Enumerable.Range(0, 400).ToArray().PMap(SlowSquare).ToList());
        Assert.Equal(expected, Generate(400).PMap(SlowSquare).ToList());
        Assert.Equal(expected, Enumerable.Range(0, 400).PMap(SlowSquare, new PMapOptions { Limit = 4 }).ToList());
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static IEnumerable<long> Endless(Action onRead)
    {
        for (long i = 0; ; i++)
        {
            onRead();
            yield return i;
        }
    }

    [Fact]
    public void AnEndlessSourceIsReadOnlyABoundedWindowAheadAsChunksGrow() => Passes(EndlessScenario);

    private static void EndlessScenario()
    {
        const int Limit = 2;
        long read = 0;
        var options = new PMapOptions { Limit = Limit };
        Assert.Equal([1L], Endless(() => read++).PMap(x => x + 1, options).Take(1).ToList());
        // The first chunk of each child is one element; the children that answered got their next
        // chunk (two, then four elements) before the first result was yielded.
        Assert.InRange(read, 1, 4 * Limit);
        read = 0;
        Assert.Equal(Enumerable.Range(1, 50_000).Select(x => (long)x), Endless(() => read++).PMap(x => x + 1, options).Take(50_000));
        // Chunks have grown, but no more than two chunks per child (each at most the largest) are read ahead.
        Assert.InRange(read, 50_000, 50_000 + (2 * Limit + 1) * 16384);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AListOfObjectsThatCannotBeSerialisedIsReadFromTheParentsMemory() => Passes(NotSerialisableListScenario);

    private static void NotSerialisableListScenario()
    {
        // Closures over a table that only the parent has, and open streams written by the parent:
        // neither survives a serializer, and the children read both from their copy of the parent.
        var table = Enumerable.Range(0, 1000).Select(i => (long)i * i).ToArray();
        var functions = Enumerable.Range(0, 1000).Select(i => (Func<long>)(() => table[i] + 1)).ToArray();
        var values = functions.PMap(f => (f(), Environment.ProcessId)).ToList();
        Assert.Equal(table.Select(t => t + 1), values.Select(v => v.Item1));
        Assert.InRange(values.Select(v => v.ProcessId).Distinct().Count(), 1, Cores.Usable);

        var streams = new List<Stream>();
        for (int i = 0; i < 300; i++)
        {
            var stream = new MemoryStream();
            stream.Write(BitConverter.GetBytes(i * 7));
            stream.Position = 0;
            streams.Add(stream);
        }
        var read = streams.PMap(s =>
        {
            var bytes = new byte[4];
            s.ReadExactly(bytes);
            return (BitConverter.ToInt32(bytes), Environment.ProcessId);
        }, new PMapOptions { Limit = 2 }).ToList();
        Assert.Equal(Enumerable.Range(0, 300).Select(i => i * 7), read.Select(r => r.Item1));
        Assert.InRange(read.Select(r => r.ProcessId).Distinct().Count(), 1, 2);
        // The parent's streams were not read: each child read its own copy.
        Assert.All(streams, s => Assert.Equal(0, s.Position));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ElementsOfALazySourceThatCannotBeSerialisedGetAChildPerChunk() => Passes(NotSerialisableStreamScenario);

    private static void NotSerialisableStreamScenario()
    {
        var secret = new Random(5).Next();
        var functions = Enumerable.Range(0, 200).Select(i => (Func<int>)(() => i ^ secret));
        var results = functions.PMap(f => (f(), Environment.ProcessId), new PMapOptions { Limit = 2 }).ToList();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => i ^ secret), results.Select(r => r.Item1));
        // A fork per chunk, and chunks of more than one element.
        Assert.InRange(results.Select(r => r.ProcessId).Distinct().Count(), 2, 100);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static int FailAt6789(int x) => x == 6789 ? throw new FormatException($"no {x}") : x;

    [Fact]
    public void AnExceptionInsideAChunkIsRaisedAtItsElementWithTheChildsStack() => Passes(ExceptionScenario);

    private static void ExceptionScenario()
    {
        foreach (var options in new[] { new PMapOptions(), new PMapOptions { BatchSize = 1000 } })
        {
            var seen = new List<int>();
            var error = Assert.Throws<RemoteException>(() =>
            {
                foreach (var x in Enumerable.Range(0, 10_000).ToArray().PMap(FailAt6789, options))
                {
                    seen.Add(x);
                }
            });
            Assert.Equal(Enumerable.Range(0, 6789), seen);
            Assert.Equal(typeof(FormatException).FullName, error.RemoteType);
            Assert.Equal("no 6789", error.RemoteMessage);
            Assert.Contains(nameof(FailAt6789), error.StackTrace);
            Assert.StartsWith("#6789 ", error.Job);
            Assert.True(ProcFs.NoChildrenLeft());
        }
    }

    private static int ExitAt537(int x)
    {
        if (x == 537)
        {
            Environment.Exit(3);
        }
        return x;
    }

    private static int KillSelfAt537(int x)
    {
        if (x == 537)
        {
            Syscall.kill(Syscall.getpid(), Signum.SIGKILL);
            Thread.Sleep(Timeout.Infinite);
        }
        return x;
    }

    [Fact]
    public void AChildThatDiesInsideAChunkIsBlamedForItsElement() => Passes(DeathScenario);

    private static void DeathScenario()
    {
        foreach (var options in new[] { new PMapOptions(), new PMapOptions { BatchSize = 100, Limit = 3 } })
        {
            var seen = new List<int>();
            var exited = Assert.Throws<ChildExitedException>(() =>
            {
                foreach (var x in Enumerable.Range(0, 2000).ToArray().PMap(ExitAt537, options))
                {
                    seen.Add(x);
                }
            });
            // The results of the chunk's elements before it died with the child, and were computed again.
            Assert.Equal(Enumerable.Range(0, 537), seen);
            Assert.Equal(3, exited.ExitCode);
            Assert.StartsWith("#537 ", exited.Job);
            Assert.Contains("#537 ", exited.Message);
            Assert.True(ProcFs.NoChildrenLeft());

            seen.Clear();
            var killed = Assert.Throws<ChildExitedException>(() =>
            {
                foreach (var x in Generate(2000).PMap(KillSelfAt537, options))
                {
                    seen.Add(x);
                }
            });
            Assert.Equal(Enumerable.Range(0, 537), seen);
            Assert.Equal(9, killed.Signal);
            Assert.StartsWith("#537 ", killed.Job);
            Assert.True(ProcFs.NoChildrenLeft());
        }
    }

    private static int SlowAndStuckAt137(int x)
    {
        Thread.Sleep(x == 137 ? Timeout.Infinite : 30);
        return x;
    }

    [Fact]
    public void TheJobTimeoutIsPerElementAndBlamesTheElementThatRanPastIt() => Passes(TimeoutScenario);

    private static void TimeoutScenario()
    {
        // Chunks of 50 elements of 30 ms take 1.5 s each, longer than the timeout: only element 137 is too slow.
        var seen = new List<int>();
        var error = Assert.Throws<ChildTimeoutException>(() =>
        {
            foreach (var x in Enumerable.Range(0, 300).ToArray().PMap(SlowAndStuckAt137,
                new PMapOptions { Limit = 2, BatchSize = 50, JobTimeout = TimeSpan.FromSeconds(1) }))
            {
                seen.Add(x);
            }
        });
        Assert.Equal(Enumerable.Range(0, 137), seen);
        Assert.StartsWith("#137 ", error.Job);
        Assert.Contains("job timeout", error.Message);
        Assert.Equal(TimeSpan.FromSeconds(1), error.Timeout);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AResultThatCannotBeSentFailsAtItsElement() => Passes(UnsendableResultScenario);

    private static void UnsendableResultScenario()
    {
        var seen = new List<object>();
        var error = Assert.Throws<RemoteException>(() =>
        {
            foreach (var r in Enumerable.Range(0, 40).ToArray().PMap(x => x == 7 ? (Func<int>)(() => x) : (object)x, new PMapOptions { BatchSize = 10, Limit = 2 }))
            {
                seen.Add(r);
            }
        });
        Assert.Equal(7, seen.Count);
        Assert.Equal(typeof(ChannelSerializationException).FullName, error.RemoteType);
        Assert.StartsWith("#7 ", error.Job);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    /// <summary>A result whose serialisation kills the child: it dies after its selector, sending the chunk's results.</summary>
    public sealed record Poisoned(int X)
    {
        public int Value => X == 5 ? Die() : X;

        private static int Die()
        {
            Environment.FailFast("a result that kills its child");
            return 0;
        }
    }

    [Fact]
    public void AChildThatDiesSendingAChunksResultsIsTracedToTheElementByHalvingTheChunk() => Passes(DiesSendingScenario);

    private static void DiesSendingScenario()
    {
        var seen = new List<int>();
        var error = Assert.Throws<ChildExitedException>(() =>
        {
            foreach (var p in Enumerable.Range(0, 16).ToArray().PMap(x => new Poisoned(x), new PMapOptions { BatchSize = 8, Limit = 2 }))
            {
                seen.Add(p.X);
            }
        });
        Assert.Equal(Enumerable.Range(0, 5), seen);
        Assert.Equal("SIGABRT", error.Status.SignalName);
        Assert.StartsWith("#5 ", error.Job);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static IEnumerable<int> FailingSource()
    {
        for (int i = 0; i < 250; i++)
        {
            yield return i;
        }
        throw new InvalidDataException("the source broke at 250");
    }

    [Fact]
    public void TheSourcesOwnExceptionIsRaisedAtItsPlaceAfterTheResultsBeforeIt() => Passes(SourceFailureScenario);

    private static void SourceFailureScenario()
    {
        var seen = new List<int>();
        var error = Assert.Throws<InvalidDataException>(() =>
        {
            foreach (var x in FailingSource().PMap(x => x + 1, new PMapOptions { Limit = 2 }))
            {
                seen.Add(x);
            }
        });
        Assert.Equal(Enumerable.Range(1, 250), seen);
        Assert.Equal("the source broke at 250", error.Message);
        Assert.Contains(nameof(FailingSource), error.StackTrace);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void CancellationKillsAndReapsTheKeptChildren() => Passes(CancelScenario);

    private static void CancelScenario()
    {
        using var cancel = new CancellationTokenSource();
        var pids = new HashSet<int>();
        int count = 0;
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var (_, pid) in Enumerable.Range(0, 100_000).ToArray().PMap(x =>
            {
                Thread.Sleep(x < 100 ? 0 : 60_000);
                return (x, Environment.ProcessId);
            }, new PMapOptions { Limit = 2, BatchSize = 10 }, cancel.Token))
            {
                pids.Add(pid);
                if (++count == 100)
                {
                    cancel.Cancel();
                }
            }
        });
        Assert.Equal(100, count);
        Assert.InRange(pids.Count, 1, 2);
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.All(pids, pid => Assert.False(ProcFs.IsRunning(pid)));
    }

    [Fact]
    public void CancellationFromAnotherThreadWakesTheMapWhileItWaitsForItsChildren() => Passes(CancelFromThreadScenario);

    private static void CancelFromThreadScenario()
    {
        using var cancel = new CancellationTokenSource();
        int consumer = ProcFs.ThreadId();
        var pids = new HashSet<int>();
        // Cancels once the consumer is seen asleep in poll: the wake-up, not a check between
        // results, must end the wait (every child sleeps for ever after the first element).
        var canceller = new Thread(() =>
        {
            while (!ProcFs.IsBlockedInPoll(consumer))
            {
                Thread.Yield();
            }
            cancel.Cancel();
        });
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var (_, pid) in Enumerable.Range(0, 1000).ToArray().PMap(x =>
            {
                Thread.Sleep(x == 0 ? 0 : Timeout.Infinite);
                return (x, Environment.ProcessId);
            }, new PMapOptions { Limit = 2 }, cancel.Token))
            {
                pids.Add(pid);
                if (!canceller.IsAlive)
                {
                    canceller.Start();
                }
            }
        });
        canceller.Join();
        Assert.Single(pids);
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.All(pids, pid => Assert.False(ProcFs.IsRunning(pid)));
    }

    private sealed class Recorder : IProgress<MapProgress>
    {
        public List<MapProgress> Reports { get; } = [];

        public void Report(MapProgress value) => Reports.Add(value);
    }

    [Fact]
    public void ProgressIsReportedUpToTheTotal() => Passes(ProgressScenario);

    private static void ProgressScenario()
    {
        var known = new Recorder();
        Assert.Equal(5000, Enumerable.Range(0, 5000).ToArray().PMap(x => x, new PMapOptions { Progress = known }).Count());
        AssertRisesTo(known, 5000, 5000);

        var lazy = new Recorder();
        Assert.Equal(3000, Enumerable.Range(0, 3000).PMap(x => x, new PMapOptions { Progress = lazy }).Count());
        AssertRisesTo(lazy, 3000, 3000);

        var unknown = new Recorder();
        Assert.Equal(3000, Generate(3000).PMap(x => x, new PMapOptions { Progress = unknown }).Count());
        AssertRisesTo(unknown, 3000, null);

        var forked = new Recorder();
        Assert.Equal(20, Enumerable.Range(0, 20).PMap(x => x, new PMapOptions { Mode = PMapMode.ForkPerElement, BatchSize = 3, Progress = forked }).Count());
        AssertRisesTo(forked, 20, 20);

        var mapped = new Recorder();
        using (var map = new Map<int>(new ExchangeOptions { Limit = 2, Progress = mapped }))
        {
            var square = map.Manage(Exchange.MakeParallel((int x) => x * x));
            for (int i = 0; i < 6; i++)
            {
                square(i);
            }
            Assert.Equal([0, 1, 4, 9, 16, 25], map.ToList());
        }
        AssertRisesTo(mapped, 6, null);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static void AssertRisesTo(Recorder recorder, long done, long? total)
    {
        Assert.NotEmpty(recorder.Reports);
        Assert.All(recorder.Reports, r => Assert.Equal(total, r.Total));
        var counts = recorder.Reports.Select(r => r.Done).ToList();
        Assert.Equal(counts.Order(), counts);
        Assert.Equal(counts.Distinct(), counts);
        Assert.Equal(done, counts[^1]);
        if (total is not null)
        {
            Assert.Equal(1.0, recorder.Reports[^1].Fraction);
        }
    }

    [Fact]
    public void FromAnAsyncMainAndFromFourThreadsAtOnceEachMapForksAtMostLimitChildren() => Passes(ThreadsScenario);

    private static void ThreadsScenario() => AsyncMain().GetAwaiter().GetResult();

    private static async Task AsyncMain()
    {
        await Task.Delay(10);
        await Task.Yield();
        Assert.True(Thread.CurrentThread.IsThreadPoolThread);
        var expected = Enumerable.Range(0, 5000).Select(x => 2 * x).ToList();
        var fromPool = Enumerable.Range(0, 5000).ToArray().PMap(Twice, new PMapOptions { Limit = 2 }).ToList();
        Assert.Equal(expected, fromPool.Select(r => r.Value));
        Assert.InRange(Pids(fromPool).Length, 1, 2);

        var results = new List<(int Value, int Pid)>[4];
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            results[t] = (t % 2 == 0 ? Enumerable.Range(0, 5000).ToArray() : Generate(5000)).PMap(Twice, new PMapOptions { Limit = 2 }).ToList())).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(results, list =>
        {
            Assert.Equal(expected, list.Select(r => r.Value));
            Assert.InRange(Pids(list).Length, 1, 2);
        });
        await Task.Delay(1);
        Assert.True(ProcFs.NoChildrenLeft());
    }
}

public sealed class PMapEngineTestsOverSockets : PMapEngineTests
{
    protected override ChannelTransportKind Transport => ChannelTransportKind.Socket;
}

public sealed class PMapEngineTestsOverSharedMemory : PMapEngineTests
{
    protected override ChannelTransportKind Transport => ChannelTransportKind.SharedMemory;
}
