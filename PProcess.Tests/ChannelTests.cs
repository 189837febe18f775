using System.Security.Cryptography;
using System.Runtime.InteropServices;
using Mono.Unix.Native;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>Messages between parent and child: sizes, types, errors and misuse.</summary>
public abstract class ChannelTests : TransportScenarios
{
    [Fact]
    public void SixtyFourMegabyteByteAndDoubleArraysRoundTripWithChecksums() => Passes(LargeArraysScenario);

    private static void LargeArraysScenario()
    {
        const int bytes = 64 << 20;
        // The child makes the arrays, sends them with their checksums, then echoes what it gets back.
        using var channel = Fork.Start(c =>
        {
            var data = new byte[bytes];
            new Random(1).NextBytes(data);
            var doubles = new double[bytes / sizeof(double)];
            for (int i = 0; i < doubles.Length; i++)
            {
                doubles[i] = Math.Sqrt(i) * (i % 3 == 0 ? -1 : 1);
            }
            c.Send(data);
            c.Send(Checksum(data));
            c.Send(doubles);
            c.Send(Checksum(MemoryMarshal.AsBytes(doubles.AsSpan())));
            var echoed = c.Receive<double[]>();
            c.Send(Checksum(MemoryMarshal.AsBytes(echoed.AsSpan())));
        });
        var received = channel.Receive<byte[]>();
        Assert.Equal(bytes, received.Length);
        Assert.Equal(channel.Receive<string>(), Checksum(received));
        var receivedDoubles = channel.Receive<double[]>();
        Assert.Equal(bytes / sizeof(double), receivedDoubles.Length);
        Assert.Equal(channel.Receive<string>(), Checksum(MemoryMarshal.AsBytes(receivedDoubles.AsSpan())));
        Assert.Equal(-Math.Sqrt(3), receivedDoubles[3]);
        channel.Send(receivedDoubles);
        Assert.Equal(Checksum(MemoryMarshal.AsBytes(receivedDoubles.AsSpan())), channel.Receive<string>());
        Assert.True(channel.Wait().Succeeded);
    }

    private static string Checksum(ReadOnlySpan<byte> data) => Convert.ToHexString(SHA256.HashData(data));

    [Fact]
    public void AMessageLargerThanTwoGibibytesArrives() => Passes(HugeMessageScenario);

    private static void HugeMessageScenario()
    {
        // 2.25 GiB of doubles: more than int.MaxValue bytes in one frame.
        const long count = (9L << 30) / 4 / sizeof(double);
        using var channel = Fork.Start(c =>
        {
            var data = new double[count];
            data[0] = 1.5;
            data[count / 2] = 2.5;
            data[count - 1] = 3.5;
            c.Send(data);
        });
        var received = channel.Receive<double[]>();
        Assert.Equal(count, received.LongLength);
        Assert.True((long)received.LongLength * sizeof(double) > int.MaxValue);
        Assert.Equal(1.5, received[0]);
        Assert.Equal(2.5, received[count / 2]);
        Assert.Equal(3.5, received[count - 1]);
    }

    [Fact]
    public void AOneGibibyteStringArrivesWhole() => Passes(GibibyteStringScenario);

    private static void GibibyteStringScenario()
    {
        // Made before the fork: the child sends its copy-on-write view of it, so the test holds
        // 2 GiB at its peak (this string and the one received), not 3.
        var big = LargeStrings.Patterned(LargeStrings.GibibyteOfChars);
        using var channel = Fork.Start(c => c.Send(big));
        var received = channel.Receive<string>();
        LargeStrings.AssertSame(big, received);
        Assert.True(channel.Wait().Succeeded);
    }

    [Fact]
    public void AStringArrayWithAStringTooLongForJsonArrivesWithItsNulls() => Passes(LongStringsScenario);

    private static void LongStringsScenario()
    {
        // 200 million characters: System.Text.Json refuses strings longer than 166,666,666
        // ("The JSON value of length 200000000 is too large and not supported"), which is how a
        // string[] crossed before it had a raw path.
        var long200M = LargeStrings.Patterned(200_000_000);
        string?[] strings = [null, "héllo ✓ 日本 🎉", long200M, "", null];
        using var channel = Fork.Start(c =>
        {
            c.Send(strings);
            c.Send(c.Receive<string?[]>());
        });
        var received = channel.Receive<string?[]>();
        Assert.Equal(strings.Length, received.Length);
        Assert.Equal(new[] { null, "héllo ✓ 日本 🎉" }, received[..2]);
        Assert.Equal(new[] { "", null }, received[3..]);
        LargeStrings.AssertSame(long200M, received[2]);
        // And back to the child, which echoes it.
        channel.Send(received);
        LargeStrings.AssertSame(long200M, channel.Receive<string?[]>()[2]);
        Assert.True(channel.Wait().Succeeded);
    }

    [Fact]
    public void ValuesOfEveryPathRoundTrip() => Passes(ValuesScenario);

    public sealed record Point(int X, string Label, double[] Weights);

    public struct Pixel
    {
        public byte R, G, B;
        public float Depth;
    }

    private static void ValuesScenario()
    {
        object?[] values =
        [
            null, "", "héllo wörld ✓", new byte[] { 0, 255, 7 }, 42, -7L, 3.25, 1.5f, true, 'x', 12.5m,
            Guid.Parse("01234567-89ab-cdef-0123-456789abcdef"), DayOfWeek.Friday, new DateTime(2026, 11, 21),
            new[] { 1, 2, 3 }, new[] { new Pixel { R = 1, G = 2, B = 3, Depth = 0.5f } }, (3, "tuple"),
            new int[]?[] { [1, 2], null, [] }, new double[][] { [1.5], [double.NaN, -0.0] }, Array.Empty<long[]>(),
            new Point(5, "five", [double.NaN, 1]), new List<string> { "a", "b" },
            new Dictionary<string, int> { ["one"] = 1 },
        ];
        using var channel = Fork.Start(c =>
        {
            foreach (var value in values)
            {
                c.Send(value);
            }
        });
        foreach (var expected in values)
        {
            var actual = channel.Receive();
            switch (expected)
            {
                case Point p:
                    var q = Assert.IsType<Point>(actual);
                    Assert.Equal((p.X, p.Label), (q.X, q.Label));
                    Assert.Equal(p.Weights, q.Weights);
                    break;
                case System.Collections.IEnumerable sequence and not string:
                    Assert.Equal(sequence.Cast<object>(), Assert.IsAssignableFrom<System.Collections.IEnumerable>(actual).Cast<object>());
                    Assert.Equal(expected.GetType(), actual!.GetType());
                    break;
                default:
                    Assert.Equal(expected, actual);
                    break;
            }
        }
    }

    [Fact]
    public void ChildExceptionCarriesItsTypeMessageStackAndInnerException() => Passes(ExceptionScenario);

    private static void ThrowingChildMethod(Channel channel, int value)
    {
        try
        {
            throw new FormatException("inner cause");
        }
        catch (FormatException e)
        {
            throw new InvalidOperationException($"child failed on {value}", e);
        }
    }

    private static void ExceptionScenario()
    {
        using var channel = Fork.Start(ThrowingChildMethod, 17);
        var error = Assert.Throws<RemoteException>(() => channel.Receive());
        Assert.Equal("System.InvalidOperationException", error.RemoteType);
        Assert.Equal("child failed on 17", error.RemoteMessage);
        Assert.Contains("ThrowingChildMethod", error.Message);
        Assert.Contains("child failed on 17", error.Message);
        Assert.Contains(channel.Pid.ToString(), error.Message);
        Assert.Contains("ThrowingChildMethod", error.RemoteStackTrace);
        Assert.Contains("ThrowingChildMethod", error.StackTrace);
        Assert.Contains("ThrowingChildMethod", error.ToString());
        var inner = Assert.IsType<RemoteException>(error.InnerException);
        Assert.Equal("System.FormatException", inner.RemoteType);
        Assert.Equal("inner cause", inner.RemoteMessage);
        Assert.Equal(channel.Pid, error.Pid);
        // The child exited with the job-threw code; that is not reported a second time.
        Assert.False(channel.TryReceive(out _));
    }

    [Fact]
    public void AnExceptionSentAsAValueIsReturnedNotRaised() => Passes(ExceptionValueScenario);

    private static void ExceptionValueScenario()
    {
        using var channel = Fork.Start(c => c.Send(new ArgumentException("just data")));
        var value = channel.Receive();
        var remote = Assert.IsType<RemoteException>(value);
        Assert.Equal("System.ArgumentException", remote.RemoteType);
        Assert.Equal("just data", remote.RemoteMessage);
        Assert.True(channel.Wait().Succeeded);
    }

    [Fact]
    public void BytesInTheSocketOutliveTheWriterSoNoAcknowledgementIsNeeded() => Passes(NoAckScenario);

    private static void NoAckScenario()
    {
        // The child sends and exits at once; the parent reaps it before reading a byte.
        using var channel = Fork.Start(c =>
        {
            c.Send("first");
            c.Send(new byte[100_000]);
            c.Send("last");
        });
        Assert.True(channel.Wait().Succeeded);
        Assert.False(Directory.Exists($"/proc/{channel.Pid}"), "the writer still exists");
        Assert.Equal("first", channel.Receive<string>());
        Assert.Equal(100_000, channel.Receive<byte[]>().Length);
        Assert.Equal("last", channel.Receive<string>());
        Assert.False(channel.TryReceive(out _));
    }

    [Fact]
    public void AValueThatCannotBeSerialisedGivesAClearErrorNamingItsType() => Passes(UnserialisableScenario);

    public sealed class Cyclic
    {
        public Cyclic? Self { get; set; }
    }

    private static void UnserialisableScenario()
    {
        using var channel = Fork.Start(c =>
        {
            var cyclic = new Cyclic();
            cyclic.Self = cyclic;
            c.Send(cyclic);
        });
        var error = Assert.Throws<RemoteException>(() => channel.Receive());
        Assert.Equal(typeof(ChannelSerializationException).FullName, error.RemoteType);
        Assert.Contains(typeof(Cyclic).FullName!, error.Message);
    }

    [Fact]
    public void AChannelUsedAfterCloseThrowsObjectDisposed() => Passes(ClosedScenario);

    private static void ClosedScenario()
    {
        var channel = Fork.Start(c => c.Send(1));
        Assert.Equal(1, channel.Receive<int>());
        channel.Dispose();
        Assert.Throws<ObjectDisposedException>(() => channel.Receive());
        Assert.Throws<ObjectDisposedException>(() => channel.Send(2));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void GarbageOnTheChannelIsReportedNotTrusted() => Passes(GarbageScenario);

    private static void GarbageScenario()
    {
        using var channel = Fork.Create();
        if (channel.IsChild)
        {
            // Write raw bytes that are not a frame.
            channel.WriteRaw("this is not a frame at all"u8);
            Fork.Exit(channel);
        }
        var error = Assert.Throws<ChannelProtocolException>(() => channel.Receive());
        Assert.Contains("not a valid message", error.Message);
        Assert.Contains(channel.Pid.ToString(), error.Message);
    }

    private static unsafe void WriteRaw(Channel channel, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
        {
            Assert.Equal(bytes.Length, (int)Syscall.write(channel.FileDescriptor, p, (ulong)bytes.Length));
        }
    }

    /// <summary>A valid header announcing 1000 bytes, then 10 of them, then the child ends.</summary>
    private static void SendsATruncatedPayload(Channel channel)
    {
        var frame = new byte[Channels.Frame.HeaderSize + 10];
        Channels.Frame.WriteHeader(frame, Channels.FrameKind.Value, 0, 1000);
        WriteRaw(channel, frame);
    }

    /// <summary>Five bytes of a sixteen-byte header, then the child ends.</summary>
    private static void SendsATruncatedHeader(Channel channel)
    {
        var header = new byte[Channels.Frame.HeaderSize];
        Channels.Frame.WriteHeader(header, Channels.FrameKind.Value, 0, 1000);
        WriteRaw(channel, header.AsSpan(0, 5));
    }

    [Fact]
    public void ATruncatedFrameIsReportedNamingTheChildAndTheOtherResultsAreKept() => IsolatedProcess.Passes(TruncatedScenario);

    private static void TruncatedScenario()
    {
        using var exchange = new Collecting(limit: 3);
        exchange.Start(c => c.Send("fine"));
        exchange.Start(SendsATruncatedPayload);
        exchange.Start(SendsATruncatedHeader);
        var errors = new List<Exception>();
        while (exchange.Unfinished())
        {
            try
            {
                exchange.Finish();
            }
            catch (Exception e) when (e is ChildProcessException or ChannelProtocolException)
            {
                errors.Add(e);
            }
        }
        Assert.Equal(["fine"], exchange.Results);
        Assert.Equal(2, errors.Count);
        var payload = Assert.Single(errors, e => e.Message.Contains("SendsATruncatedPayload"));
        Assert.Contains("the payload was cut off after 10 of 1000 bytes", payload.Message);
        var header = Assert.Single(errors, e => e.Message.Contains("SendsATruncatedHeader"));
        Assert.Contains($"the frame header was cut off after 5 of {Channels.Frame.HeaderSize} bytes", header.Message);
        foreach (var e in errors)
        {
            Assert.Matches(@"child process \d+ \(job #\d", e.Message);
            Assert.Contains("in the middle of a message", e.Message);
        }
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AGrandchildHoldsNoEndOfItsParentsChannelToTheTop() => Passes(GrandchildScenario);

    private static void GrandchildScenario()
    {
        using var exchange = new Collecting(limit: 1);
        exchange.Start(c =>
        {
            // A socket's link names its inode; every eventfd's link reads the same, so for shared
            // memory the grandchild counts them: its own channel's four, and none of its parent's.
            int socket = c.PollDescriptors[^1];
            var mine = File.ResolveLinkTarget($"/proc/self/fd/{socket}", false)!.ToString();
            using var inner = Fork.Start(g =>
            {
                var open = ProcFs.OpenDescriptors();
                g.Send(open.ContainsValue(mine) ? -1 : open.Values.Count(v => v.Contains("eventfd")));
            });
            c.Send(inner.Receive<int>());
        });
        exchange.Finish();
        Assert.Equal([Fork.DefaultTransport == ChannelTransportKind.SharedMemory ? 4 : 0], exchange.Results);
    }

    /// <summary>Writing to a channel whose other end is closed: EPIPE becomes a clear IOException, not SIGPIPE.</summary>
    [Fact]
    public void SendingToAClosedPeerIsAClearIOException()
    {
        // A loopback pair in the test process itself: no fork is needed to close the other end.
        PProcess.Transports.IChannelTransport mine, theirs;
        if (Transport == ChannelTransportKind.Socket)
        {
            var (a, b) = PProcess.Transports.SocketTransport.CreatePair();
            (mine, theirs) = (new PProcess.Transports.SocketTransport(a), new PProcess.Transports.SocketTransport(b));
        }
        else
        {
            (mine, theirs) = new PProcess.Transports.SharedMemoryTransport.Ends().Loopback();
        }
        using var sender = new Channel(mine, null, null, PProcess.Serialization.DefaultChannelSerializer.Instance, toParent: true);
        theirs.Dispose();
        var error = Assert.Throws<IOException>(() => sender.Send(new byte[1 << 20]));
        Assert.Contains("EPIPE", error.Message);
        Assert.Contains("closed", error.Message);
    }

    [Fact]
    public void AChannelUsesTheTransportItWasGiven() => Passes(TransportScenario);

    private static void TransportScenario()
    {
        // Shared memory: four eventfds and a liveness socket in the child, and the region mapped;
        // a socket channel: one socket and no eventfd.
        using var channel = Fork.Start(c => c.Send(ProcFs.OpenDescriptors().Values.Count(v => v.Contains("eventfd"))));
        int eventfds = channel.Receive<int>();
        Assert.Equal(Fork.DefaultTransport == ChannelTransportKind.SharedMemory ? 4 : 0, eventfds);
        using var explicitly = Fork.Start(c => c.Send(ProcFs.OpenDescriptors().Values.Count(v => v.Contains("eventfd"))), new ChannelOptions { Transport = ChannelTransportKind.SharedMemory });
        Assert.Equal(4, explicitly.Receive<int>());
    }
}

/// <summary>The channel tests over socketpairs.</summary>
public sealed class ChannelTestsOverSockets : ChannelTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.Socket;
}

/// <summary>The channel tests over shared memory.</summary>
public sealed class ChannelTestsOverSharedMemory : ChannelTests
{
    /// <inheritdoc />
    protected override ChannelTransportKind Transport => ChannelTransportKind.SharedMemory;
}
