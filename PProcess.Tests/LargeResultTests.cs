using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Mono.Unix.Native;
using PProcess.Channels;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;
using PProcess.Transports;

namespace PProcess.Tests;

/// <summary>
/// Large arrays received straight into their final array (Channels/Inbox.cs, docs/channels.md,
/// "Large arrays"): their contents, one copy instead of two, a child that dies or lies mid-result,
/// a type the receive does not expect, and the process-wide budget given back on every path.
/// </summary>
public abstract class LargeResultTests : TransportScenarios
{
    /// <summary>A struct of plain numbers: received straight into its array.</summary>
    public struct Point3
    {
        public double X, Y, Z;
    }

    /// <summary>A struct holding a pointer-sized handle: not plain data, so it takes the segments.</summary>
    public struct WithHandle
    {
        public nint Handle;
        public int Tag;
    }

    private static string Checksum(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data));

    private static string Checksum<T>(T[] array) where T : unmanaged => Checksum(MemoryMarshal.AsBytes(array.AsSpan()));

    [Fact]
    public void LargeArraysOfSeveralTypesAndSizesArriveWhole() => Passes(SeveralArraysScenario);

    private static void SeveralArraysScenario()
    {
        // Sizes about the thresholds: straight in at once (up to 1 MiB), after an eighth, and in segments.
        static byte[] Bytes(int n)
        {
            var b = new byte[n];
            new Random(n).NextBytes(b);
            return b;
        }
        using var channel = Fork.Start(c =>
        {
            foreach (var n in new[] { 20_000, 900_000, 1 << 20, (1 << 20) + 1, (40 << 20) + 3 })
            {
                var b = Bytes(n);
                c.Send(b);
                c.Send(Checksum(b));
            }
            var doubles = new double[5_000_001];
            for (int i = 0; i < doubles.Length; i++)
            {
                doubles[i] = Math.Sqrt(i) * (i % 3 == 0 ? -1 : 1);
            }
            c.Send(doubles);
            c.Send(Checksum(doubles));
            var points = new Point3[3_000_000];
            for (int i = 0; i < points.Length; i++)
            {
                points[i] = new Point3 { X = i, Y = -i, Z = i * 0.5 };
            }
            c.Send(points);
            c.Send(Checksum(points));
            var handles = new WithHandle[1_000_000];
            for (int i = 0; i < handles.Length; i++)
            {
                handles[i] = new WithHandle { Handle = i * 7, Tag = i };
            }
            c.Send(handles);
            c.Send(Checksum(handles));
        });
        foreach (var n in new[] { 20_000, 900_000, 1 << 20, (1 << 20) + 1, (40 << 20) + 3 })
        {
            var received = channel.Receive<byte[]>();
            Assert.Equal(n, received.Length);
            Assert.Equal(channel.Receive<string>(), Checksum(received));
        }
        var doubles = Assert.IsType<double[]>(channel.Receive());
        Assert.Equal(5_000_001, doubles.Length);
        Assert.Equal(channel.Receive<string>(), Checksum(doubles));
        Assert.Equal(-Math.Sqrt(5_000_000 - 2), doubles[^3]);
        var points = channel.Receive<Point3[]>();
        Assert.Equal(channel.Receive<string>(), Checksum(points));
        Assert.Equal(-2_999_999, points[^1].Y);
        var handles = channel.Receive<WithHandle[]>();
        Assert.Equal(channel.Receive<string>(), Checksum(handles));
        Assert.True(channel.Wait().Succeeded);
        Assert.Equal(0, Inbox.DirectReserved);
    }

    [Fact]
    public void ALargeArrayIsCopiedIntoItsArrayOnceAndNotAlsoIntoSegments() => Passes(OneCopyScenario);

    private static void OneCopyScenario()
    {
        const int count = 8 << 20; // 64 MiB of doubles
        using var channel = Fork.Start(c =>
        {
            var doubles = new double[count];
            doubles.AsSpan().Fill(2.5);
            c.Send(doubles);
        });
        // The receive runs on this thread: what it allocates is the array plus its first eighth in
        // segments (before, as much again in segments: twice the array).
        long before = GC.GetAllocatedBytesForCurrentThread();
        var received = channel.Receive<double[]>();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(count, received.Length);
        Assert.Equal(2.5, received[^1]);
        long size = count * (long)sizeof(double);
        Assert.True(allocated < size * 5 / 4, $"receiving {size >> 20} MiB allocated {allocated >> 20} MiB");
        Assert.True(channel.Wait().Succeeded);
        Assert.Equal(0, Inbox.DirectReserved);
    }

    [Fact]
    public void AChildKilledInTheMiddleOfALargeArrayIsReportedAndTheArrayLetGo() => Passes(KilledMidArrayScenario);

    /// <summary>In the child: announces <paramref name="claim"/> bytes of doubles and sends <paramref name="sent"/> of them.</summary>
    private static void SendPartOfDoubles(Channel channel, long claim, int sent)
    {
        var name = HostileInputTests.TypeName(typeof(double));
        Span<byte> header = stackalloc byte[Frame.HeaderSize];
        Frame.WriteHeader(header, FrameKind.Value, 4 /* unmanaged array */, name.Length + claim);
        channel.WriteRaw(header);
        channel.WriteRaw(name);
        var chunk = new byte[1 << 20];
        chunk.AsSpan().Fill(7);
        for (int at = 0; at < sent; at += chunk.Length)
        {
            channel.WriteRaw(chunk.AsSpan(0, Math.Min(chunk.Length, sent - at)));
        }
    }

    private static void KilledMidArrayScenario()
    {
        var mappings = ProcFs.SharedAnonymousMappings();
        using (var channel = Fork.Start(c =>
        {
            // 48 MiB of 256: past the eighth, so the rest was going straight into the array.
            SendPartOfDoubles(c, 256L << 20, 48 << 20);
            Syscall.kill(Syscall.getpid(), Signum.SIGKILL);
        }))
        {
            var killed = Assert.Throws<ChildExitedException>(() => channel.Receive<double[]>());
            Assert.Equal(9, killed.Signal);
            Assert.Contains("in the middle of a message", killed.Message);
            Assert.Contains($"of {(256L << 20) + HostileInputTests.TypeName(typeof(double)).Length} bytes", killed.Message);
            Assert.Contains(channel.Pid.ToString(), killed.Message);
            Assert.True(Inbox.DirectReserved > 0, "the array was not being received straight into: the test misses its path");
        }
        Assert.Equal(0, Inbox.DirectReserved);
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.Equal(mappings, ProcFs.SharedAnonymousMappings());
    }

    [Fact]
    public void AForgedLengthGetsAnArrayWhoseMemoryIsOnlyTouchedByTheBytesThatArrive() => Passes(ForgedLengthScenario);

    private static void ForgedLengthScenario()
    {
        // 1 GiB announced, 136 MiB sent (past the eighth), then nothing: the job timeout ends it.
        var options = new ExchangeOptions { Limit = 1, JobTimeout = TimeSpan.FromSeconds(3) };
        using (var exchange = new Collecting(options))
        {
            exchange.Start(c =>
            {
                SendPartOfDoubles(c, 1L << 30, 136 << 20);
                Thread.Sleep(TimeSpan.FromMinutes(5));
            });
            var timedOut = Assert.Throws<ChildTimeoutException>(() => exchange.Finish());
            Assert.Contains("job timeout of 3 s", timedOut.Message);
            Assert.Empty(exchange.Results);
        }
        Assert.Equal(0, Inbox.DirectReserved);
        long peak = HostileInputTests.PeakResidentBytes();
        // The array's 1 GiB is allocated, but only the 136 MiB that arrived were written to it
        // (plus as much in segments before it, and the runtime's own).
        Assert.True(peak < 640L << 20, $"the parent's peak resident memory was {peak >> 20} MiB");
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AChildForkedWhileItsParentHoldsTheWholeBudgetHasABudgetOfItsOwn() => Passes(InheritedBudgetScenario);

    private static void InheritedBudgetScenario()
    {
        // The parent receives an array announced at the whole budget (4 GiB of doubles) until it
        // goes straight into its array (an eighth), then forks a child that receives 16 MiB.
        using var sender = Fork.Start(c =>
        {
            SendPartOfDoubles(c, Inbox.DirectBudget - 64, (int)(Inbox.DirectBudget / Inbox.DirectFactor));
            Thread.Sleep(TimeSpan.FromMinutes(5));
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (Inbox.DirectReserved == 0 && DateTime.UtcNow < deadline)
        {
            Assert.False(sender.Poll(TimeSpan.FromMilliseconds(50)));
        }
        Assert.True(Inbox.DirectReserved > Inbox.DirectBudget - (64 << 20), $"the parent holds {Inbox.DirectReserved} bytes of the budget");
        using var child = Fork.Start(c =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var doubles = c.Receive<double[]>();
            c.Send(GC.GetAllocatedBytesForCurrentThread() - before);
            c.Send(doubles[^1]);
        });
        child.Send(Enumerable.Repeat(1.5, 2 << 20).ToArray());
        long allocated = child.Receive<long>();
        Assert.Equal(1.5, child.Receive<double>());
        // Straight into its array: 16 MiB and its first eighth, not twice 16 MiB.
        Assert.True(allocated < 20 << 20, $"the child allocated {allocated >> 20} MiB to receive 16 MiB");
        sender.Dispose();
        Assert.Equal(0, Inbox.DirectReserved);
    }

    [Fact]
    public void ALargeArrayOfATypeTheReceiveDoesNotExpectIsRefusedAndTheChannelStaysInStep() => Passes(UnexpectedArrayScenario);

    private static void UnexpectedArrayScenario()
    {
        using var channel = Fork.Start(c =>
        {
            c.Send(new int[2 << 20]);
            c.Send("after");
        });
        var refused = Assert.Throws<ChannelSerializationException>(() => channel.Receive<long[]>());
        Assert.Contains("does not expect", refused.Message);
        Assert.Equal(0, Inbox.DirectReserved);
        Assert.Equal("after", channel.Receive<string>());
        Assert.True(channel.Wait().Succeeded);
    }
}

/// <summary>The large-result tests over socketpairs.</summary>
public sealed class LargeResultTestsOverSockets : LargeResultTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.Socket;
}

/// <summary>The large-result tests over shared memory.</summary>
public sealed class LargeResultTestsOverSharedMemory : LargeResultTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.SharedMemory;
}
