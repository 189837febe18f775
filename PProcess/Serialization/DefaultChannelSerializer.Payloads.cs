using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PProcess.Serialization;

/// <summary>The sending side: one payload class per wire format, each writing straight from the value's memory.</summary>
public sealed partial class DefaultChannelSerializer
{
    /// <summary>Spans over arrays larger than 2 GiB are written and read in chunks of at most 1 GiB.</summary>
    private const int Chunk = 1 << 30;

    /// <summary>Writes <paramref name="byteLength"/> bytes of memory from <paramref name="start"/>, in chunks a span can hold.</summary>
    private static void WriteMemory(IPayloadWriter writer, ref byte start, long byteLength)
    {
        for (long offset = 0; offset < byteLength; offset += Chunk)
        {
            int count = (int)Math.Min(Chunk, byteLength - offset);
            writer.Write(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref start, (nint)offset), count));
        }
    }

    /// <summary>
    /// The first byte of a boxed value's data: a box is a method table pointer followed by the
    /// value, which is where <see cref="StrongBox{T}.Value"/> of a <c>StrongBox&lt;byte&gt;</c> lies too.
    /// </summary>
    private static ref byte DataOf(object box) => ref Unsafe.As<StrongBox<byte>>(box).Value;

    /// <summary>A payload of an optional type name (length-prefixed) and one block of bytes.</summary>
    private sealed class SpanPayload(byte format, byte[] typeName, byte[] body) : ChannelPayload
    {
        internal static readonly SpanPayload Null = new((byte)Formats.Null, [], []);

        public override byte Format => format;

        public override long Length => typeName.Length + body.LongLength;

        public override void WriteTo(IPayloadWriter writer)
        {
            writer.Write(typeName);
            writer.Write(body);
        }
    }

    /// <summary>A string: its UTF-16 code units.</summary>
    private sealed class StringPayload(string value) : ChannelPayload
    {
        public override byte Format => (byte)Formats.String;

        public override long Length => (long)value.Length * 2;

        public override void WriteTo(IPayloadWriter writer) => writer.Write(MemoryMarshal.AsBytes(value.AsSpan()));
    }

    /// <summary>An array of strings: the count, each string's length in code units (-1: null), then every string's code units.</summary>
    private sealed class StringArrayPayload(string?[] strings) : ChannelPayload
    {
        public override byte Format => (byte)Formats.StringArray;

        public override long Length
        {
            get
            {
                long total = 4 + 4L * strings.Length;
                foreach (var s in strings)
                {
                    total += s is null ? 0 : (long)s.Length * 2;
                }
                return total;
            }
        }

        public override void WriteTo(IPayloadWriter writer)
        {
            Span<byte> count = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(count, strings.Length);
            writer.Write(count);
            // In native order, as the raw values themselves: both ends run on the same machine.
            Span<int> lengths = stackalloc int[256];
            for (int from = 0; from < strings.Length; from += lengths.Length)
            {
                int n = Math.Min(lengths.Length, strings.Length - from);
                for (int i = 0; i < n; i++)
                {
                    lengths[i] = strings[from + i]?.Length ?? -1;
                }
                writer.Write(MemoryMarshal.AsBytes(lengths[..n]));
            }
            foreach (var s in strings)
            {
                if (s is not null)
                {
                    writer.Write(MemoryMarshal.AsBytes(s.AsSpan()));
                }
            }
        }
    }

    /// <summary>
    /// One unmanaged value, written from its box: after a one-byte code (<see cref="Formats.Primitive"/>)
    /// or its type name (<see cref="Formats.UnmanagedScalar"/>).
    /// </summary>
    private sealed class ScalarPayload(byte format, byte[] prefix, object box, int size) : ChannelPayload
    {
        public override byte Format => format;

        public override long Length => prefix.Length + size;

        public override void WriteTo(IPayloadWriter writer)
        {
            writer.Write(prefix);
            writer.Write(MemoryMarshal.CreateReadOnlySpan(ref DataOf(box), size));
        }
    }

    /// <summary>A one-dimensional array of unmanaged values: the element type name, then the array's memory.</summary>
    private sealed class ArrayPayload(byte format, byte[] typeName, Array array) : ChannelPayload
    {
        private readonly long byteLength = array.LongLength * TypeNames.SizeOf(array.GetType().GetElementType()!);

        public override byte Format => format;

        public override long Length => typeName.Length + byteLength;

        public override void WriteTo(IPayloadWriter writer)
        {
            writer.Write(typeName);
            WriteMemory(writer, ref MemoryMarshal.GetArrayDataReference(array), byteLength);
        }
    }

    /// <summary>
    /// An array of unmanaged values of rank 2 or more (or with a lower bound): the element type
    /// name, the rank, each dimension's length and lower bound, then the array's memory (row-major).
    /// </summary>
    private sealed class MultiArrayPayload(byte[] typeName, Array array) : ChannelPayload
    {
        private readonly long byteLength = array.LongLength * TypeNames.SizeOf(array.GetType().GetElementType()!);

        public override byte Format => (byte)Formats.UnmanagedMultiArray;

        public override long Length => typeName.Length + 1 + 8L * array.Rank + byteLength;

        public override void WriteTo(IPayloadWriter writer)
        {
            writer.Write(typeName);
            Span<byte> word = stackalloc byte[8];
            word[0] = (byte)array.Rank;
            writer.Write(word[..1]);
            for (int d = 0; d < array.Rank; d++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(word, array.GetLength(d));
                BinaryPrimitives.WriteInt32LittleEndian(word[4..], array.GetLowerBound(d));
                writer.Write(word);
            }
            WriteMemory(writer, ref MemoryMarshal.GetArrayDataReference(array), byteLength);
        }
    }

    /// <summary>
    /// An array of arrays of unmanaged values (a PMap chunk of rows, say): the element type name,
    /// the count, then each array's length (-1 for null) and memory. Such chunks used to go through
    /// JSON: PMap (reuse) of 1600x1200 Mandelbrot rows ran at 0.82 of PLINQ's throughput with JSON
    /// and 0.93 with this (docs/performance.md).
    /// </summary>
    private sealed class JaggedPayload(byte[] typeName, Array jagged) : ChannelPayload
    {
        private readonly long size = TypeNames.SizeOf(jagged.GetType().GetElementType()!.GetElementType()!);

        public override byte Format => (byte)Formats.UnmanagedJagged;

        public override long Length
        {
            get
            {
                long total = typeName.Length + 4;
                foreach (Array? inner in jagged)
                {
                    total += 8 + (inner is null ? 0 : inner.LongLength * size);
                }
                return total;
            }
        }

        public override void WriteTo(IPayloadWriter writer)
        {
            writer.Write(typeName);
            Span<byte> word = stackalloc byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(word, jagged.Length);
            writer.Write(word[..4]);
            foreach (Array? inner in jagged)
            {
                BinaryPrimitives.WriteInt64LittleEndian(word, inner is null ? -1 : inner.LongLength);
                writer.Write(word);
                if (inner is not null)
                {
                    WriteMemory(writer, ref MemoryMarshal.GetArrayDataReference(inner), inner.LongLength * size);
                }
            }
        }
    }

    /// <summary>
    /// An array sent element by element (an array of arrays, an <c>object[]</c>, a base class's
    /// array): the element type name, the count, then each element as its own payload (format,
    /// 64-bit length, bytes), so that each arrives as the type it was, by its own path.
    /// </summary>
    private sealed class ElementsPayload : ChannelPayload
    {
        private readonly byte[] typeName;
        private readonly ChannelPayload[] items;
        private readonly long length;

        internal ElementsPayload(byte[] typeName, object?[] array, DefaultChannelSerializer serializer)
        {
            this.typeName = typeName;
            items = new ChannelPayload[array.Length];
            length = typeName.Length + 4;
            for (int i = 0; i < array.Length; i++)
            {
                items[i] = serializer.Serialize(array[i]);
                length += 9 + items[i].Length;
            }
        }

        public override byte Format => (byte)Formats.Elements;

        public override long Length => length;

        public override void WriteTo(IPayloadWriter writer)
        {
            writer.Write(typeName);
            Span<byte> header = stackalloc byte[9];
            BinaryPrimitives.WriteInt32LittleEndian(header, items.Length);
            writer.Write(header[..4]);
            foreach (var item in items)
            {
                header[0] = item.Format;
                BinaryPrimitives.WriteInt64LittleEndian(header[1..], item.Length);
                writer.Write(header);
                item.WriteTo(writer);
            }
        }
    }
}
