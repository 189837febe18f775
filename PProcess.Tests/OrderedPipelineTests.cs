using Mono.Unix.Native;
using PProcess.Processes;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>The ordered pipeline: put order kept across parallel workers, pass-through markers, backpressure, errors, shutdown.</summary>
public class OrderedPipelineTests
{
    /// <summary>Uneven work, so that later jobs often finish before earlier ones.</summary>
    private static string Work(int x)
    {
        long spin = 0;
        for (int k = 0; k < (x % 5) * 200_000; k++)
        {
            spin += k ^ x;
        }
        return $"{x}:{Environment.ProcessId}:{spin & 1}";
    }

    private static string ReadFifo(string path) => File.ReadAllText(path);

    private static int Square(int x) => x * x;

    private static int Fail(int x) => throw new InvalidDataException($"job {x} failed");

    [Fact]
    public void AProducerThreadAndAConsumerThreadSeeResultsInPutOrderWithMarkersInPlace() => IsolatedProcess.Passes(OrderScenario);

    private static void OrderScenario()
    {
        using var pipeline = new OrderedPipeline(new OrderedPipelineOptions { Workers = 2, BufferSize = 8 });
        var expected = new List<string>();
        for (int i = 0; i < 60; i++)
        {
            expected.Add(i.ToString());
            if (i % 10 == 9)
            {
                expected.Add($"batch {i / 10} done");
            }
        }
        var producer = new Thread(() =>
        {
            for (int i = 0; i < 60; i++)
            {
                pipeline.Put(Work, i);
                if (i % 10 == 9)
                {
                    pipeline.Put($"batch {i / 10} done");
                }
            }
            pipeline.Stop();
        });
        var got = new List<object?>();
        var consumer = new Thread(() =>
        {
            while (pipeline.TryGet(TimeSpan.FromMinutes(1), out var value))
            {
                got.Add(value);
            }
        });
        producer.Start();
        consumer.Start();
        producer.Join();
        consumer.Join();
        Assert.Equal(expected, got.Select(v => v is string s && s.Contains(':') ? s.Split(':')[0] : v));
        var pids = got.OfType<string>().Where(s => s.Contains(':')).Select(s => int.Parse(s.Split(':')[1])).Distinct().ToList();
        Assert.Equal(2, pids.Count);
        Assert.DoesNotContain(Environment.ProcessId, pids);
        Assert.True(pipeline.Join(TimeSpan.FromMinutes(1)));
        Assert.False(pipeline.IsAlive);
        Assert.Throws<InvalidOperationException>(() => pipeline.Get(TimeSpan.Zero));
        Assert.Throws<ObjectDisposedException>(() => pipeline.Put(Square, 1));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ASlowJobHoldsUpOutputButBlocksTheProducerOnlyWhenTheBufferIsFull() => IsolatedProcess.Passes(BackpressureScenario);

    private static void BackpressureScenario()
    {
        string fifo = Path.Combine(Path.GetTempPath(), $"pipeline-fifo-{Environment.ProcessId}");
        Assert.Equal(0, Syscall.mkfifo(fifo, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR));
        try
        {
            using var pipeline = new OrderedPipeline(new OrderedPipelineOptions { Workers = 2, BufferSize = 4 });
            pipeline.Put(ReadFifo, fifo);               // blocks in its worker until the fifo is written
            pipeline.Put(Square, 2, TimeSpan.Zero);     // the buffer has room: no wait
            pipeline.Put("marker", TimeSpan.Zero);
            pipeline.Put(Square, 3, TimeSpan.Zero);
            Assert.Throws<TimeoutException>(() => pipeline.Put(Square, 4, TimeSpan.Zero));   // full: 4 values in the pipeline
            Assert.False(pipeline.TryGet(TimeSpan.Zero, out _));                          // the head is still running
            Assert.Throws<TimeoutException>(() => pipeline.Get(TimeSpan.FromMilliseconds(1)));
            File.WriteAllText(fifo, "slow one");
            Assert.Equal("slow one", pipeline.Get());
            pipeline.Put(Square, 4, TimeSpan.Zero);     // one value out, one place free
            Assert.Equal(4, pipeline.Get());
            Assert.Equal("marker", pipeline.Get());
            Assert.Equal(9, pipeline.Get());
            Assert.Equal(16, pipeline.Get());
            Assert.Equal(0, pipeline.Count);
        }
        finally
        {
            File.Delete(fifo);
        }
    }

    [Fact]
    public void AJobsExceptionReachesGetAtItsPlaceWithTheWorkersStack() => IsolatedProcess.Passes(ErrorScenario);

    private static void ErrorScenario()
    {
        using var pipeline = new OrderedPipeline(new OrderedPipelineOptions { Workers = 2, BufferSize = 10 });
        pipeline.Put(Square, 1);
        pipeline.Put(Fail, 2);
        pipeline.Put(Square, 3);
        Assert.Equal(1, pipeline.Get());
        var e = Assert.Throws<RemoteException>(() => pipeline.Get());
        Assert.Equal(typeof(InvalidDataException).FullName, e.RemoteType);
        Assert.Contains("job 2 failed", e.RemoteMessage);
        Assert.Contains(nameof(Fail), e.RemoteStackTrace);
        Assert.Equal(9, pipeline.Get());
        Assert.Throws<ArgumentException>(() => pipeline.Put((Func<int, int>)Square));
        Assert.Throws<InvalidOperationException>(() => pipeline.Join());   // not stopped
        pipeline.Stop();
        Assert.Throws<InvalidOperationException>(() => pipeline.Put(Square, 1));
        Assert.True(pipeline.Join(TimeSpan.FromMinutes(1)));
    }

    private static int KillSelf(int signal)
    {
        Syscall.kill(Environment.ProcessId, (Signum)signal);
        return -1;
    }

    [Fact]
    public void AWorkerThatDiesFailsItsJobAtItsPlaceAndThePipelineGoesOn() => IsolatedProcess.Passes(DeathScenario);

    private static void DeathScenario()
    {
        using var pipeline = new OrderedPipeline(new OrderedPipelineOptions { Workers = 2, BufferSize = 10 });
        pipeline.Put(Square, 1);
        pipeline.Put(KillSelf, (int)Signum.SIGKILL);
        pipeline.Put(Square, 3);
        Assert.Equal(1, pipeline.Get());
        var e = Assert.Throws<ChildExitedException>(() => pipeline.Get());
        Assert.Equal(9, e.Signal);
        Assert.Contains(nameof(KillSelf), e.Message);
        Assert.Equal(9, pipeline.Get());
        pipeline.Put(Square, 4);
        Assert.Equal(16, pipeline.Get());
    }

    [Fact]
    public void BadArgumentsAreRefusedBeforeAnyFork()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new OrderedPipelineOptions { BufferSize = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new OrderedPipelineOptions { Workers = 0 });
    }

    [Fact]
    public void StoppingReleasesAProducerWaitingForRoom() => IsolatedProcess.Passes(StopReleasesProducerScenario);

    private static void StopReleasesProducerScenario()
    {
        using var pipeline = new OrderedPipeline(new OrderedPipelineOptions { Workers = 1, BufferSize = 1 });
        pipeline.Put("fills the buffer");
        Exception? seen = null;
        int producerTid = 0;
        var producer = new Thread(() =>
        {
            try
            {
                Volatile.Write(ref producerTid, ProcFs.ThreadId());
                pipeline.Put("waits for room that no consumer will make");
            }
            catch (Exception e)
            {
                seen = e;
            }
        });
        producer.Start();
        // Stop once the producer is asleep in the kernel inside Put (the only place it can block), waiting for room:
        // only Stop can release it then.
        Eventually.True(() => Volatile.Read(ref producerTid) is not 0 and var tid
            && ProcStat.Read($"/proc/self/task/{tid}/stat", new byte[ProcStat.BufferSize]) is { State: 'S' }, "the producer to block in Put");
        Assert.True(producer.IsAlive, "Put returned although the buffer was full");
        pipeline.Stop();
        Assert.True(producer.Join(TimeSpan.FromSeconds(30)), "a producer waiting for room was not released by Stop");
        Assert.IsType<InvalidOperationException>(seen);
        Assert.Equal("fills the buffer", pipeline.Get(TimeSpan.FromSeconds(30)));
    }
}
