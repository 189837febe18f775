using System.Buffers;
using System.Buffers.Binary;
using PProcess.Serialization;

namespace PProcess.Tests;

/// <summary>
/// DefaultChannelSerializer in-process (no channel, no fork): every value shape a job or a PMap
/// chunk of results is comes back equal and of the same type, through the path meant for it, with
/// exactly the bytes it announced; malformed payloads are refused before anything large is allocated.
/// </summary>
public class DefaultSerializerTests
{
    private static readonly DefaultChannelSerializer Serializer = DefaultChannelSerializer.Instance;

    public sealed record Point(int X, string Label);

    public abstract record Shape(string Name);

    public sealed record Circle(double Radius) : Shape("circle");

    public sealed record Square(double Side) : Shape("square");

    public struct Pixel
    {
        public byte R, G, B;
        public float Depth;
    }

    // The payload formats (docs/channels.md); a test that finds another has found a value on the wrong path.
    private const byte StringFormat = 1, Json = 5, UnmanagedArray = 4, StringArray = 8, Primitive = 9, MultiArray = 10, Elements = 11;

    [Fact]
    public void StringArraysWithNullsEmptyAndNonAsciiStringsCrossRawAndExact()
    {
        // A lone surrogate is valid in a .NET string but not in JSON: System.Text.Json refuses to write it.
        string?[] strings = ["", null, "héllo wörld ✓", "日本語", "🎉 emoji", "\uD800 lone surrogate", new string('x', 100_000), null];
        var (format, back) = RoundTrip(strings);
        Assert.Equal(StringArray, format);
        Assert.Equal(strings, Assert.IsType<string?[]>(back));
        Assert.Same(string.Empty, ((string?[])back!)[0]);
        Assert.Equal(strings, RoundTrip(new List<string?>(strings).ToArray()).Value);
        Assert.Empty(Assert.IsType<string[]>(RoundTrip(Array.Empty<string>()).Value));
        Assert.Equal(StringFormat, RoundTrip("\uDC00").Format);
        Assert.Equal("\uDC00", RoundTrip("\uDC00").Value);
    }

    [Fact]
    public void AStringArrayTakesFourBytesPerStringAndTwoPerCharacter()
    {
        var payload = Serializer.Serialize(new[] { "ab", null, "" });
        Assert.Equal(4 + 3 * 4 + 2 * 2, payload.Length);
    }

    [Fact]
    public void EveryPrimitiveCrossesAsItsCodeAndBytesAndKeepsItsType()
    {
        object[] values =
        [
            true, false, (sbyte)-5, (byte)250, 'é', (short)-300, (ushort)60000, -7, 4_000_000_000u, long.MinValue, ulong.MaxValue,
            1.5f, float.NaN, -0.0, double.PositiveInfinity, 12.345m, -0m, new DateTime(2026, 11, 21, 8, 30, 0, DateTimeKind.Utc),
            new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Local),
        ];
        foreach (var value in values)
        {
            var (format, back) = RoundTrip(value);
            Assert.Equal(Primitive, format);
            Assert.Equal(value.GetType(), back!.GetType());
            Assert.Equal(value, back);
            if (value is DateTime time)
            {
                Assert.Equal(time.Kind, ((DateTime)back).Kind);
            }
            if (value is double d)
            {
                Assert.Equal(BitConverter.DoubleToInt64Bits(d), BitConverter.DoubleToInt64Bits((double)back));
            }
            if (value is decimal m)
            {
                Assert.Equal(decimal.GetBits(m), decimal.GetBits((decimal)back));
            }
        }
        // An int is five bytes: its code and its value.
        Assert.Equal(5, Serializer.Serialize(42).Length);
    }

    [Fact]
    public void UnmanagedValuesThatAreNotPrimitivesKeepTheirTypes()
    {
        object[] values =
        [
            DayOfWeek.Friday, Guid.Parse("01234567-89ab-cdef-0123-456789abcdef"), (3, 4.5), new Pixel { R = 1, G = 2, B = 3, Depth = 0.5f },
            TimeSpan.FromTicks(123456789), new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.FromHours(2)), (nint)(-3),
        ];
        foreach (var value in values)
        {
            var back = RoundTrip(value).Value;
            Assert.Equal(value.GetType(), back!.GetType());
            Assert.Equal(value, back);
        }
    }

    [Fact]
    public void UnmanagedArraysOfEveryKindCrossRawAndKeepTheirElementType()
    {
        Array[] arrays =
        [
            new[] { 1, -2, int.MaxValue }, new[] { double.NaN, -0.0, 1e300 }, Array.Empty<long>(), new[] { true, false },
            new[] { 'a', 'é' }, new sbyte[] { -1, 2 }, new int?[] { 1, null, -3 }, new DateTime?[] { null, DateTime.UnixEpoch },
            new[] { new Pixel { R = 9, Depth = -1 } }, new[] { DayOfWeek.Monday }, new[] { (1, 2L) }, new decimal[] { 1.5m, -2 },
        ];
        foreach (var array in arrays)
        {
            var (format, back) = RoundTrip(array);
            Assert.Equal(UnmanagedArray, format);
            Assert.Equal(array.GetType(), back!.GetType());
            Assert.Equal(array.Cast<object>(), ((Array)back).Cast<object>());
        }
        // A byte array keeps its own format, and an sbyte array is not taken for one.
        Assert.IsType<byte[]>(RoundTrip(new byte[] { 1, 2 }).Value);
        Assert.IsType<sbyte[]>(RoundTrip(new sbyte[] { 1, 2 }).Value);
    }

    [Fact]
    public void ArraysOfSeveralDimensionsCrossRaw()
    {
        var matrix = new double[,] { { 1, 2, 3 }, { 4, 5, double.NaN } };
        var (format, back) = RoundTrip(matrix);
        Assert.Equal(MultiArray, format);
        var m = Assert.IsType<double[,]>(back);
        Assert.Equal((2, 3), (m.GetLength(0), m.GetLength(1)));
        Assert.Equal(matrix.Cast<double>(), m.Cast<double>());

        var cube = new int[2, 0, 4];
        Assert.Equal((2, 0, 4), ((int[,,])RoundTrip(cube).Value!) is var c ? (c.GetLength(0), c.GetLength(1), c.GetLength(2)) : default);

        var shifted = Array.CreateInstance(typeof(int), [3], [10]);
        shifted.SetValue(7, 11);
        var s = Assert.IsAssignableFrom<Array>(RoundTrip(shifted).Value);
        Assert.Equal((10, 7), (s.GetLowerBound(0), (int)s.GetValue(11)!));
    }

    [Fact]
    public void ArraysOfArraysKeepTheirShapes()
    {
        var rows = new int[]?[] { [1, 2], null, [] };
        Assert.Equal(rows, RoundTrip(rows).Value);

        var table = new string?[]?[] { ["a", null], null, [], ["日本"] };
        var (format, back) = RoundTrip(table);
        Assert.Equal(Elements, format);
        Assert.Equal(table, Assert.IsType<string?[]?[]>(back));

        var matrices = new[] { new double[,] { { 1 } }, new double[2, 2] };
        var m = Assert.IsType<double[][,]>(RoundTrip(matrices).Value);
        Assert.Equal((1.0, 2), (m[0][0, 0], m[1].GetLength(1)));
    }

    [Fact]
    public void AnArrayOfValuesOfOtherTypesKeepsEachValuesType()
    {
        object?[] values = [1, "two", null, 3.5, new Point(4, "four"), new[] { 5, 6 }, DayOfWeek.Sunday, new string?[] { null }];
        var (format, back) = RoundTrip(values);
        Assert.Equal(Elements, format);
        var array = Assert.IsType<object?[]>(back);
        Assert.Equal(values.Select(v => v?.GetType()), array.Select(v => v?.GetType()));
        Assert.Equal(values[..5], array[..5]);
        Assert.Equal((int[])values[5]!, (int[])array[5]!);

        Shape[] shapes = [new Circle(1), new Square(2)];
        var shapesBack = Assert.IsType<Shape[]>(RoundTrip(shapes).Value);
        Assert.Equal(shapes, shapesBack);
    }

    [Fact]
    public void RecordsAndArraysOfOneTypeTakeTheJsonPath()
    {
        Point[] points = [new(1, "one"), new(2, "two")];
        var (format, back) = RoundTrip(points);
        Assert.Equal(Json, format);
        Assert.Equal(points, Assert.IsType<Point[]>(back));
        Assert.Equal(new Point(3, "é"), RoundTrip(new Point(3, "é")).Value);
        Assert.Equal(new List<string> { "a" }, RoundTrip(new List<string> { "a" }).Value);
        var tuples = new[] { (1, "a"), (2, "b") };
        Assert.Equal(tuples, RoundTrip(tuples).Value);
    }

    [Fact]
    public void MalformedPayloadsAreRefusedWithoutAllocatingWhatTheyClaim()
    {
        // A string array that claims two billion strings in twelve bytes.
        var claim = new byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(claim, 2_000_000_000);
        Assert.Throws<ChannelProtocolException>(() => Serializer.Deserialize(StringArray, claim.Length, new Reader(claim)));

        // One string of 3 characters announced, 2 sent.
        var shortString = new byte[4 + 4 + 4];
        BinaryPrimitives.WriteInt32LittleEndian(shortString, 1);
        BinaryPrimitives.WriteInt32LittleEndian(shortString.AsSpan(4), 3);
        Assert.Throws<ChannelProtocolException>(() => Serializer.Deserialize(StringArray, shortString.Length, new Reader(shortString)));

        // A primitive of an unknown code, and one of the wrong size.
        Assert.Throws<ChannelProtocolException>(() => Serializer.Deserialize(Primitive, 5, new Reader(new byte[] { 200, 0, 0, 0, 0 })));
        Assert.Throws<ChannelProtocolException>(() => Serializer.Deserialize(Primitive, 3, new Reader(new byte[] { (byte)TypeCode.Int32, 0, 0 })));
    }

    private static (byte Format, object? Value) RoundTrip(object? value)
    {
        var payload = Serializer.Serialize(value);
        var buffer = new ArrayBufferWriter<byte>();
        payload.WriteTo(new Writer(buffer));
        Assert.Equal(payload.Length, buffer.WrittenCount);
        var reader = new Reader(buffer.WrittenMemory);
        var back = Serializer.Deserialize(payload.Format, payload.Length, reader);
        Assert.Equal(buffer.WrittenCount, reader.Position);
        return (payload.Format, back);
    }

    private sealed class Writer(ArrayBufferWriter<byte> buffer) : IPayloadWriter
    {
        public void Write(ReadOnlySpan<byte> data) => buffer.Write(data);
    }

    private sealed class Reader(ReadOnlyMemory<byte> data) : IPayloadReader
    {
        internal int Position { get; private set; }

        public void ReadExactly(Span<byte> target)
        {
            if (Position + target.Length > data.Length)
            {
                throw new EndOfStreamException();
            }
            data.Span.Slice(Position, target.Length).CopyTo(target);
            Position += target.Length;
        }
    }
}
