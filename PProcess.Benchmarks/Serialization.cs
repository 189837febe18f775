using System.Buffers;
using System.Diagnostics;
using MemoryPack;
using PProcess.Serialization;

namespace PProcess.Benchmarks;

/// <summary>A result of the kind jobs return: a record with numbers, a string and a small array.</summary>
[MemoryPackable]
public sealed partial record Sample(int Id, double X, double Y, string Label, int[] Counts);

/// <summary>
/// Section 6: the default serializer (System.Text.Json for records) against MemoryPack, on a
/// record, a list of records and an array of records: in-process round trips through
/// <see cref="IChannelSerializer"/>, and echoes through a channel to a child.
/// </summary>
public static class SerializationBench
{
    public static Sample[] Samples(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new Sample(i, i * 0.5, -i / 3.0, $"sample {i}", [i, i + 1, i + 2, i + 3]))];

    /// <summary>The payload's size in bytes, as it crosses a channel.</summary>
    public static long Size(IChannelSerializer serializer, object value) => serializer.Serialize(value).Length;

    /// <summary>µs per serialize + deserialize of <paramref name="value"/>, over <paramref name="iterations"/>.</summary>
    public static double RoundTripUs(IChannelSerializer serializer, object value, int iterations)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new BufferWriter(buffer);
        object? last = null;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iterations; i++)
        {
            buffer.ResetWrittenCount();
            var payload = serializer.Serialize(value);
            payload.WriteTo(writer);
            last = serializer.Deserialize(payload.Format, payload.Length, new SpanReader(buffer.WrittenMemory));
        }
        double us = clock.Elapsed.TotalMicroseconds / iterations;
        Check(value, last);
        return us;
    }

    /// <summary>µs per round trip of <paramref name="value"/> to a child that sends back what it receives.</summary>
    public static double ChannelEchoUs(IChannelSerializer serializer, object value, int trips)
    {
        using var echo = Fork.Start(c =>
        {
            while (c.TryReceive(out var received))
            {
                c.Send(received);
            }
        }, new ChannelOptions { Serializer = serializer });
        echo.Send(value);
        Check(value, echo.Receive<object>());
        var clock = Stopwatch.StartNew();
        object? last = null;
        for (int i = 0; i < trips; i++)
        {
            echo.Send(value);
            last = echo.Receive<object>();
        }
        double us = clock.Elapsed.TotalMicroseconds / trips;
        Check(value, last);
        return us;
    }

    private static void Check(object sent, object? received)
    {
        bool same = (sent, received) switch
        {
            (Sample a, Sample b) => a.Id == b.Id && a.Label == b.Label && a.Counts.SequenceEqual(b.Counts),
            (IList<Sample> a, IList<Sample> b) => a.Count == b.Count && a[^1].Label == b[^1].Label && a[^1].Counts.SequenceEqual(b[^1].Counts),
            _ => false,
        };
        if (!same || received!.GetType() != sent.GetType())
        {
            throw new InvalidOperationException($"a {sent.GetType().Name} came back as {received?.GetType().Name ?? "null"} or changed");
        }
    }

    private sealed class BufferWriter(ArrayBufferWriter<byte> buffer) : IPayloadWriter
    {
        public void Write(ReadOnlySpan<byte> data) => buffer.Write(data);
    }

    private sealed class SpanReader(ReadOnlyMemory<byte> data) : IPayloadReader
    {
        private int position;

        public void ReadExactly(Span<byte> target)
        {
            data.Span.Slice(position, target.Length).CopyTo(target);
            position += target.Length;
        }
    }
}
