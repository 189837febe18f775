using System.Buffers.Binary;
using System.Diagnostics;
using CsCheck;
using Xunit.Abstractions;
using PProcess.Channels;
using PProcess.Native;
using PProcess.Serialization;
using PProcess.Transports;

namespace PProcess.Tests;

/// <summary>
/// A fuzz harness for what a child can put on the wire (docs/reliability.md, "Hostile input"):
/// CsCheck generates valid frames of many kinds of values, then mutates them (bytes flipped,
/// lengths, counts, formats and kinds replaced, type names swapped for hostile ones, frames cut
/// short or padded with garbage) and, over shared memory, the peer's ring positions. The parent's
/// end reads them through the readiness loop, as an exchange does. The property: it never crashes
/// (only the library's own errors come out), never waits past its deadline, and allocates at most
/// <see cref="AllocationFactor"/> times the bytes it was sent plus <see cref="AllocationBound"/>.
/// No fork: both ends live in this process, the "child" end written to directly.
/// The suite runs <see cref="ShortRun"/> cases; the nightly run, 100,000 or more:
/// <c>PPROCESS_FUZZ_CASES=100000 dotnet test PProcess.Tests --filter "FullyQualifiedName~WireFuzzTests"</c>.
/// </summary>
public class WireFuzzTests(ITestOutputHelper output)
{
    /// <summary>Cases in the suite's run.</summary>
    private const int ShortRun = 1500;

    /// <summary>Bytes allocated per byte received, at most: JSON builds objects larger than its text (measured: see docs/reliability.md).</summary>
    private const long AllocationFactor = 16;

    /// <summary>Bytes allocated beyond that, at most: the channel's buffers, the serializer's caches, a first use of a type.</summary>
    private const long AllocationBound = 8 << 20;

    /// <summary>How long one case may take, its reads and errors included.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static long Cases => Environment.GetEnvironmentVariable("PPROCESS_FUZZ_CASES") is { Length: > 0 } n ? long.Parse(n) : ShortRun;

    /// <summary>Values whose frames are the seeds of the mutations: every wire format of the default serializer.</summary>
    private static readonly object?[] Seeds =
    [
        null, "", "héllo", new byte[] { 1, 2, 3 }, new string?[] { "a", null }, 42, 7L, 2.5, true, 'c', 1.5m, DateTime.UnixEpoch,
        DayOfWeek.Friday, (1, 2.5), new[] { 1, 2, 3 }, new long[] { 1 }, new int[,] { { 1, 2 }, { 3, 4 } }, new int[][] { [1], [2, 3] },
        new object?[] { 1, "s", null, new[] { 1.5 } }, new List<int> { 1, 2 }, new Dictionary<string, int> { ["a"] = 1 },
        new Sample(1, "one", [1.5, 2.5]), new InvalidOperationException("boom"),
    ];

    /// <summary>A record that takes the JSON path.</summary>
    public sealed record Sample(int Id, string Label, double[] Weights);

    /// <summary>Types a forged frame may name instead of its own.</summary>
    private static readonly string[] HostileNames =
    [
        typeof(System.Runtime.InteropServices.GCHandle).FullName!, "System.Net.Http.HttpClient, System.Net.Http",
        typeof(HostileInputTests.Trap).AssemblyQualifiedName!, "Nope.Missing, Nope.Assembly", "System.Object[]", "System.Int64",
        typeof(Sample).AssemblyQualifiedName!, "", new string('x', 3000), "System.Collections.Generic.List`1[[System.Int32]]",
    ];

    /// <summary>What the receive expects: as an untyped receive, a PMap of ints, a Map of records.</summary>
    private static readonly Type[] Expectations = [typeof(object), typeof(int[]), typeof(Sample), typeof(string)];

    /// <summary>One mutation of a frame.</summary>
    private enum Mutation
    {
        None, FlipByte, Length, Count, Format, Kind, TypeName, Cut, Garbage, Repeat,
    }

    /// <summary>One case: frames made from seeds, each mutated, a transport, what the receive expects, and a ring position to forge.</summary>
    private sealed record Case(
        (int Seed, Mutation Mutation, long Number, int Position)[] Frames,
        bool SharedMemory,
        int Expected,
        int RingForgery,
        long RingDelta)
    {
        public override string ToString() =>
            $"{(SharedMemory ? "shm" : "socket")} expecting {Expectations[Expected].Name}, ring forgery {RingForgery} by {RingDelta}: " +
            string.Join("; ", Frames.Select(f => $"{Seeds[f.Seed]?.GetType().Name ?? "null"} {f.Mutation} {f.Number} at {f.Position}"));
    }

    private static readonly Gen<Case> Cases_ =
        Gen.Select(
            Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Enum<Mutation>(), Gen.OneOf(Gen.Long, Gen.Long[-4, 70_000], Gen.Int[0, HostileNames.Length - 1].Select(i => (long)i)), Gen.Int[0, 1 << 16])
                .Array[1, 4],
            Gen.Bool,
            Gen.Int[0, Expectations.Length - 1],
            Gen.Int[0, 4],
            Gen.OneOf(Gen.Long, Gen.Long[-2, 2], Gen.Long[-1 << 22, 1 << 22]))
        .Select((frames, shm, expected, forgery, delta) => new Case(frames, shm, expected, forgery, delta));

    [Fact]
    public void MutatedFramesAndRingPositionsNeverCrashHangOrFloodTheParent()
    {
        (mostAllocated, mostBeyondReceived, longest, errors, values) = (0, 0, TimeSpan.Zero, 0, 0);
        Cases_.Sample(Check, iter: Cases, threads: 1, seed: Environment.GetEnvironmentVariable("PPROCESS_FUZZ_SEED"));
        output.WriteLine($"{Cases} cases: {values} values and {errors} errors received; at most {mostAllocated} bytes allocated in a case, " +
            $"at most {mostBeyondReceived} bytes more than it received; the longest case took {longest.TotalMilliseconds:0} ms");
    }

    // What the run saw, for its report (one thread).
    private static long mostAllocated;
    private static long mostBeyondReceived;
    private static TimeSpan longest;
    private static long errors;
    private static long values;

    private static void Check(Case c)
    {
        var bytes = c.Frames.SelectMany(f => Mutate(Frame(Seeds[f.Seed]), f.Mutation, f.Number, f.Position)).ToArray();
        var (reader, writer) = Ends(c.SharedMemory);
        using var channel = new Channel(reader, null, "fuzz", DefaultChannelSerializer.Instance);
        try
        {
            // Within the transport's buffer (a socket's, a ring's 1 MiB), so that the writer does not block.
            writer.Write(bytes.AsSpan(0, Math.Min(bytes.Length, 64 * 1024)));
            if (c.SharedMemory && c.RingForgery > 0)
            {
                Forge(writer, c.RingForgery, c.RingDelta);
            }
        }
        catch (Exception e) when (e is ChannelProtocolException or IOException)
        {
            // The writer's own ring was forged to look full or broken: what was written is what the reader gets.
        }
        writer.Dispose();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        using var set = new ChannelSet<Channel>();
        set.Add(channel, channel);
        List<ChannelSet<Channel>.Entry> ready = [], ended = [];
        var expected = Expectations[c.Expected];
        bool open = true;
        while (open)
        {
            set.Wait(Native.Deadline.After(Deadline), ready, ended);
            Assert.True(clock.Elapsed < Deadline, $"the reader waited {clock.Elapsed.TotalSeconds:0.0} s: {c}");
            if (ready.Count + ended.Count == 0)
            {
                Assert.Fail($"nothing was ready within {Deadline.TotalSeconds} s, though the writer had closed: {c}");
            }
            try
            {
                open = channel.TryReceive(out _, expected);
                values += open ? 1 : 0;
            }
            catch (Exception e) when (e is ChannelProtocolException or ChannelSerializationException or RemoteException or ObjectDisposedException)
            {
                open = !channel.IsFaulted && e is not ObjectDisposedException;
                errors++;
            }
            if (c.SharedMemory && c.RingForgery > 2 && open)
            {
                // The parent answers too: a send through a ring whose Tail the peer forged must fail cleanly.
                try
                {
                    channel.Send(new byte[70_000]);
                }
                catch (Exception e) when (e is ChannelProtocolException or IOException)
                {
                    open = false;
                }
            }
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        mostAllocated = Math.Max(mostAllocated, allocated);
        mostBeyondReceived = Math.Max(mostBeyondReceived, allocated - bytes.Length);
        longest = clock.Elapsed > longest ? clock.Elapsed : longest;
        Assert.True(allocated <= AllocationFactor * bytes.Length + AllocationBound,
            $"received {bytes.Length} bytes and allocated {allocated}: {c}");
    }

    /// <summary>The parent's end and the child's, in this process.</summary>
    private static (IChannelTransport Reader, IChannelTransport Writer) Ends(bool sharedMemory)
    {
        if (sharedMemory)
        {
            return new SharedMemoryTransport.Ends().Loopback();
        }
        var (a, b) = SocketTransport.CreatePair();
        return (new SocketTransport(a), new SocketTransport(b));
    }

    /// <summary>The peer writes a ring position it does not own, or a wrong one of its own.</summary>
    private static void Forge(IChannelTransport writer, int which, long delta)
    {
        var transport = (SharedMemoryTransport)writer;
        var field = which <= 2 ? "tx" : "rx";
        var ring = (SharedRing)typeof(SharedMemoryTransport).GetField(field, System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!
            .GetValue(transport)!;
        if (which is 1 or 3)
        {
            Volatile.Write(ref ring.Head, ring.Head + delta);
        }
        else
        {
            Volatile.Write(ref ring.Tail, ring.Tail + delta);
        }
    }

    /// <summary>A value's whole frame, as a channel writes it.</summary>
    private static byte[] Frame(object? value)
    {
        var payload = value is Exception e
            ? DefaultChannelSerializer.Instance.Serialize(PProcess.Errors.RemoteError.From(e).ToBoundedJson())
            : DefaultChannelSerializer.Instance.Serialize(value);
        var body = new System.Buffers.ArrayBufferWriter<byte>();
        payload.WriteTo(new Writer(body));
        var frame = new byte[PProcess.Channels.Frame.HeaderSize + body.WrittenCount];
        PProcess.Channels.Frame.WriteHeader(frame, value is Exception ? FrameKind.Error : FrameKind.Value, payload.Format, body.WrittenCount);
        body.WrittenSpan.CopyTo(frame.AsSpan(PProcess.Channels.Frame.HeaderSize));
        return frame;
    }

    private sealed class Writer(System.Buffers.ArrayBufferWriter<byte> buffer) : IPayloadWriter
    {
        public void Write(ReadOnlySpan<byte> data) => System.Buffers.BuffersExtensions.Write(buffer, data);
    }

    private static byte[] Mutate(byte[] frame, Mutation mutation, long number, int position)
    {
        int header = PProcess.Channels.Frame.HeaderSize;
        int at = frame.Length == 0 ? 0 : position % frame.Length;
        switch (mutation)
        {
            case Mutation.FlipByte:
                frame[at] ^= (byte)(number | 1);
                return frame;
            case Mutation.Length:
                BinaryPrimitives.WriteInt64LittleEndian(frame.AsSpan(8), number);
                return frame;
            case Mutation.Count when frame.Length >= header + 4:
                // A count or length inside the payload: a word at some place after the header.
                int word = header + (position % Math.Max(1, frame.Length - header - 3));
                BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(word), (int)number);
                return frame;
            case Mutation.Format:
                frame[4] = (byte)number;
                return frame;
            case Mutation.Kind:
                frame[3] = (byte)number;
                return frame;
            case Mutation.TypeName:
                return Renamed(frame, HostileNames[(int)(Math.Abs(number % HostileNames.Length))]);
            case Mutation.Cut:
                return frame[..at];
            case Mutation.Garbage:
                var noise = new byte[position % 64];
                new Random((int)number).NextBytes(noise);
                return [.. frame[..at], .. noise, .. frame[at..]];
            case Mutation.Repeat:
                return [.. frame, .. frame];
            default:
                return frame;
        }
    }

    /// <summary>The frame of a JSON value with another type name in front of the same JSON.</summary>
    private static byte[] Renamed(byte[] frame, string name)
    {
        var json = System.Text.Encoding.UTF8.GetBytes("{\"Id\":1,\"Value\":2}");
        var utf8 = System.Text.Encoding.UTF8.GetBytes(name);
        var payload = new byte[2 + utf8.Length + json.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)utf8.Length);
        utf8.CopyTo(payload, 2);
        json.CopyTo(payload, 2 + utf8.Length);
        byte format = frame.Length > 4 && frame[4] is 3 or 4 or 11 ? frame[4] : (byte)5;
        var renamed = new byte[PProcess.Channels.Frame.HeaderSize + payload.Length];
        PProcess.Channels.Frame.WriteHeader(renamed, FrameKind.Value, format, payload.Length);
        payload.CopyTo(renamed, PProcess.Channels.Frame.HeaderSize);
        return renamed;
    }
}
