using System.Buffers;
using MemoryPack;
using PProcess.Serialization;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

[MemoryPackable]
public sealed partial record PackedResult(int Id, double Value, string Label, int[] Counts);

/// <summary>A record without [MemoryPackable]: MemoryPack has no formatter for it.</summary>
public sealed record PlainResult(int Id, string Label);

/// <summary>
/// MemoryPackChannelSerializer (PProcess.MemoryPack): [MemoryPackable] values cross in MemoryPack's
/// form; everything else exactly as with the default serializer.
/// </summary>
public class MemoryPackSerializerTests
{
    private static readonly MemoryPackChannelSerializer Serializer = MemoryPackChannelSerializer.Instance;

    private static PackedResult Packed(int i) => new(i, i * 0.5, $"result {i}", [i, -i]);

    [Fact]
    public void PackableRecordsListsAndArraysCrossAsMemoryPack()
    {
        var one = Packed(7);
        var (format, back) = RoundTrip(one);
        Assert.Equal(MemoryPackChannelSerializer.MemoryPackFormat, format);
        AssertSame(one, Assert.IsType<PackedResult>(back));

        var list = Enumerable.Range(0, 50).Select(Packed).ToList();
        (format, back) = RoundTrip(list);
        Assert.Equal(MemoryPackChannelSerializer.MemoryPackFormat, format);
        var listBack = Assert.IsType<List<PackedResult>>(back);
        Assert.Equal(50, listBack.Count);
        AssertSame(list[49], listBack[49]);

        var array = Enumerable.Range(0, 50).Select(Packed).ToArray();
        (format, back) = RoundTrip(array);
        Assert.Equal(MemoryPackChannelSerializer.MemoryPackFormat, format);
        AssertSame(array[13], Assert.IsType<PackedResult[]>(back)[13]);
    }

    [Fact]
    public void WhatTheDefaultSendsRawGoesThroughTheDefaultUnchanged()
    {
        object?[] values = [null, "text", new byte[] { 1, 2 }, 42, (1, 2, 3), new[] { 1.5, 2.5 }, new[] { new[] { 1, 2 }, new[] { 3 } }];
        foreach (var value in values)
        {
            var (format, back) = RoundTrip(value);
            Assert.Equal(DefaultChannelSerializer.Instance.Serialize(value).Format, format);
            Assert.Equal(value, back);
        }
        var (errorFormat, error) = RoundTrip(new InvalidOperationException("boom"));
        Assert.Equal(DefaultChannelSerializer.Instance.Serialize(new InvalidOperationException("boom")).Format, errorFormat);
        Assert.Equal("boom", Assert.IsType<RemoteException>(error).RemoteMessage);
    }

    [Fact]
    public void ATypeMemoryPackCannotWriteFallsBackToJsonEveryTime()
    {
        var serializer = new MemoryPackChannelSerializer();
        for (int i = 0; i < 2; i++)
        {
            var plain = new PlainResult(i, $"plain {i}");
            var (format, back) = RoundTrip(plain, serializer);
            Assert.Equal(DefaultChannelSerializer.Instance.Serialize(plain).Format, format);
            Assert.Equal(plain, back);
        }
        var mixed = new List<PlainResult> { new(1, "in a list") };
        Assert.Equal(mixed, RoundTrip(mixed, serializer).Value);
    }

    [Fact]
    public void PMapResultsCrossFromChildrenThroughMemoryPack() => IsolatedProcess.Passes(PMapScenario);

    private static void PMapScenario()
    {
        var forked = Enumerable.Range(0, 12).PMap(Packed, new PMapOptions { Limit = 3, Serializer = MemoryPackChannelSerializer.Instance }).ToList();
        var batched = Enumerable.Range(0, 40).PMap(Packed, new PMapOptions { BatchSize = 8, Reuse = true, Limit = 2, Serializer = MemoryPackChannelSerializer.Instance }).ToList();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"result {i}"), forked.Select(r => r.Label));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => -i), batched.Select(r => r.Counts[1]));
    }

    private static void AssertSame(PackedResult expected, PackedResult actual)
    {
        Assert.Equal((expected.Id, expected.Value, expected.Label), (actual.Id, actual.Value, actual.Label));
        Assert.Equal(expected.Counts, actual.Counts);
    }

    private static (byte Format, object? Value) RoundTrip(object? value, IChannelSerializer? serializer = null)
    {
        serializer ??= Serializer;
        var payload = serializer.Serialize(value);
        var buffer = new ArrayBufferWriter<byte>();
        payload.WriteTo(new Writer(buffer));
        Assert.Equal(payload.Length, buffer.WrittenCount);
        return (payload.Format, serializer.Deserialize(payload.Format, payload.Length, new Reader(buffer.WrittenMemory)));
    }

    private sealed class Writer(ArrayBufferWriter<byte> buffer) : IPayloadWriter
    {
        public void Write(ReadOnlySpan<byte> data) => buffer.Write(data);
    }

    private sealed class Reader(ReadOnlyMemory<byte> data) : IPayloadReader
    {
        private int position;

        public void ReadExactly(Span<byte> target)
        {
            if (position + target.Length > data.Length)
            {
                throw new EndOfStreamException();
            }
            data.Span.Slice(position, target.Length).CopyTo(target);
            position += target.Length;
        }
    }
}
