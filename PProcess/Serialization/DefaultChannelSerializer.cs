using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using PProcess.Errors;

namespace PProcess.Serialization;

/// <summary>
/// The default serializer. Strings, byte arrays, unmanaged values (primitives, enums, structs
/// without references), arrays of them and arrays of such arrays cross as their raw bytes, with no
/// JSON and no copy on the sending side. Everything else goes through System.Text.Json with the value's runtime type.
/// An exception sent as a value arrives as a <see cref="RemoteException"/> object.
/// </summary>
public sealed class DefaultChannelSerializer : IChannelSerializer
{
    private enum Formats : byte
    {
        Null = 0,
        String = 1,
        Bytes = 2,
        UnmanagedScalar = 3,
        UnmanagedArray = 4,
        Json = 5,
        Exception = 6,
        UnmanagedJagged = 7,
    }

    /// <summary>The shared instance with the default JSON options.</summary>
    public static DefaultChannelSerializer Instance { get; } = new();

    /// <summary>Creates a serializer; <paramref name="jsonOptions"/> replaces the defaults for the JSON path.</summary>
    public DefaultChannelSerializer(JsonSerializerOptions? jsonOptions = null)
    {
        JsonOptions = jsonOptions ?? new JsonSerializerOptions
        {
            IncludeFields = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
    }

    /// <summary>The options used for values that take the JSON path.</summary>
    public JsonSerializerOptions JsonOptions { get; }

    /// <inheritdoc />
    public ChannelPayload Serialize(object? value)
    {
        switch (value)
        {
            case null:
                return new SpanPayload((byte)Formats.Null, [], []);
            case string s:
                return new StringPayload(s);
            case byte[] bytes:
                return new SpanPayload((byte)Formats.Bytes, [], bytes);
            case Exception e:
                return new SpanPayload((byte)Formats.Exception, [], JsonSerializer.SerializeToUtf8Bytes(RemoteError.From(e), JsonOptions));
            case Array array when array.Rank == 1 && array.GetType().GetElementType() is { } element && TypeNames.IsUnmanaged(element):
                return new ArrayPayload((byte)Formats.UnmanagedArray, TypeNames.NameOf(element), array);
            case Array jagged when jagged.Rank == 1 && jagged.GetType().GetElementType() is { IsSZArray: true } inner
                && inner.GetElementType() is { } innerElement && TypeNames.IsUnmanaged(innerElement):
                return new JaggedPayload(TypeNames.NameOf(innerElement), jagged);
        }
        var type = value.GetType();
        if (TypeNames.IsUnmanaged(type))
        {
            var box = Array.CreateInstance(type, 1);
            box.SetValue(value, 0);
            return new ArrayPayload((byte)Formats.UnmanagedScalar, TypeNames.NameOf(type), box);
        }
        return new SpanPayload((byte)Formats.Json, TypeNames.NameOf(type), JsonSerializer.SerializeToUtf8Bytes(value, type, JsonOptions));
    }

    /// <inheritdoc />
    public object? Deserialize(byte format, long length, IPayloadReader reader)
    {
        switch ((Formats)format)
        {
            case Formats.Null:
                return null;
            case Formats.String:
                return ReadString(length, reader);
            case Formats.Bytes:
            {
                var bytes = GC.AllocateUninitializedArray<byte>(checked((int)length));
                AdviseHugePages(bytes, length);
                reader.ReadExactly(bytes);
                return bytes;
            }
            case Formats.UnmanagedScalar:
            case Formats.UnmanagedArray:
            {
                var type = ReadTypeName(reader, ref length);
                long size = ByteSize(type);
                if (size == 0 || length % size != 0 || (format == (byte)Formats.UnmanagedScalar && length != size))
                {
                    throw new ChannelProtocolException($"A payload of {length} bytes cannot hold values of {type} ({size} bytes each).");
                }
                var array = Array.CreateInstance(type, length / size);
                ReadInto(array, length, reader);
                return format == (byte)Formats.UnmanagedScalar ? array.GetValue(0) : array;
            }
            case Formats.UnmanagedJagged:
                return ReadJagged(length, reader);
            case Formats.Json:
            {
                var type = ReadTypeName(reader, ref length);
                return WithBuffer(length, reader, span => JsonSerializer.Deserialize(span, type, JsonOptions));
            }
            case Formats.Exception:
            {
                var error = WithBuffer(length, reader, span => JsonSerializer.Deserialize<RemoteError>(span, JsonOptions))
                    ?? throw new ChannelProtocolException("An exception payload was empty.");
                return new RemoteException(error, 0, null);
            }
            default:
                throw new ChannelProtocolException($"Unknown payload format {format}.");
        }
    }

    /// <summary>An array of arrays of unmanaged values: the element type, the count, then each array's length (-1: null) and raw bytes.</summary>
    private static Array ReadJagged(long length, IPayloadReader reader)
    {
        var type = ReadTypeName(reader, ref length);
        long size = ByteSize(type);
        Span<byte> word = stackalloc byte[8];
        if (size == 0 || length < 4)
        {
            throw new ChannelProtocolException($"A payload of arrays of {type} is malformed.");
        }
        reader.ReadExactly(word[..4]);
        int count = BinaryPrimitives.ReadInt32LittleEndian(word);
        length -= 4;
        if (count < 0 || count > length / 8)
        {
            throw new ChannelProtocolException($"A payload of {length} bytes cannot hold {count} arrays.");
        }
        var outer = Array.CreateInstance(type.MakeArrayType(), count);
        for (int i = 0; i < count; i++)
        {
            reader.ReadExactly(word);
            long elements = BinaryPrimitives.ReadInt64LittleEndian(word);
            length -= 8;
            if (elements == -1)
            {
                continue;
            }
            if (elements < 0 || elements > length / size)
            {
                throw new ChannelProtocolException($"Array {i} of {count} claims {elements} values of {type}, more than its payload holds.");
            }
            var inner = Array.CreateInstance(type, elements);
            ReadInto(inner, elements * size, reader);
            length -= elements * size;
            outer.SetValue(inner, i);
        }
        if (length != 0)
        {
            throw new ChannelProtocolException($"A payload of arrays of {type} has {length} bytes left over.");
        }
        return outer;
    }

    private static string ReadString(long length, IPayloadReader reader)
    {
        if (length % 2 != 0)
        {
            throw new ChannelProtocolException($"A string payload has an odd length ({length}).");
        }
        return string.Create(checked((int)(length / 2)), reader, static (chars, r) => r.ReadExactly(MemoryMarshal.AsBytes(chars)));
    }

    private static Type ReadTypeName(IPayloadReader reader, ref long length)
    {
        Span<byte> prefix = stackalloc byte[2];
        reader.ReadExactly(prefix);
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix);
        if (nameLength + 2 > length)
        {
            throw new ChannelProtocolException("A payload's type name runs past its end.");
        }
        var name = nameLength <= 512 ? stackalloc byte[nameLength] : new byte[nameLength];
        reader.ReadExactly(name);
        length -= 2 + nameLength;
        return TypeNames.Resolve(Encoding.UTF8.GetString(name));
    }

    private static T WithBuffer<T>(long length, IPayloadReader reader, SpanFunc<T> decode)
    {
        int size = checked((int)length);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            reader.ReadExactly(buffer.AsSpan(0, size));
            return decode(buffer.AsSpan(0, size));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private delegate T SpanFunc<out T>(ReadOnlySpan<byte> span);

    private static long ByteSize(Type element) => TypeNames.SizeOf(element);

    /// <summary>Chunks of at most 1 GiB, so spans over arrays larger than 2 GiB stay valid.</summary>
    private const int Chunk = 1 << 30;

    /// <summary>Arrays from this size on are received into transparent huge pages where the kernel allows.</summary>
    private const long HugePageThreshold = 8 << 20;

    /// <summary>
    /// Asks for transparent huge pages for a large array about to be filled: a fresh array's memory
    /// is faulted in page by page as it is first written, and with 4 KiB pages that costs more than
    /// the copy itself (docs/performance.md, "Page faults"). Only advice: ignored where THP is off.
    /// </summary>
    private static unsafe void AdviseHugePages(Array array, long byteLength)
    {
        if (byteLength < HugePageThreshold)
        {
            return;
        }
        const long huge = 2 << 20;
        long start = (long)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        long from = (start + huge - 1) & ~(huge - 1);
        long to = (start + byteLength) & ~(huge - 1);
        if (to > from)
        {
            // A large array is not moved (the large object heap is not compacted unless asked), and
            // the advice is about the address range, not the object: a move would only waste it.
            // MADV_DONTNEED first: memory the heap reuses may be shared copy-on-write with a child
            // forked since, and each write would copy a page; dropped, it comes back as fresh zero
            // pages, which is what a new array holds anyway (docs/performance.md, "Page faults").
            Native.LibC.Advise((nint)from, (nuint)(to - from), Native.LibC.MADV_DONTNEED);
            Native.LibC.Advise((nint)from, (nuint)(to - from), Native.LibC.MADV_HUGEPAGE);
        }
    }

    private static void ReadInto(Array array, long byteLength, IPayloadReader reader)
    {
        AdviseHugePages(array, byteLength);
        ref byte start = ref MemoryMarshal.GetArrayDataReference(array);
        for (long offset = 0; offset < byteLength; offset += Chunk)
        {
            int count = (int)Math.Min(Chunk, byteLength - offset);
            reader.ReadExactly(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref start, (nint)offset), count));
        }
    }

    private static void WriteTypeName(IPayloadWriter writer, byte[] name)
    {
        Span<byte> prefix = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(prefix, checked((ushort)name.Length));
        writer.Write(prefix);
        writer.Write(name);
    }

    /// <summary>A payload of an optional type name and one block of bytes.</summary>
    private sealed class SpanPayload(byte format, byte[] typeName, byte[] body) : ChannelPayload
    {
        public override byte Format => format;

        public override long Length => (typeName.Length == 0 ? 0 : 2 + typeName.Length) + body.LongLength;

        public override void WriteTo(IPayloadWriter writer)
        {
            if (typeName.Length != 0)
            {
                WriteTypeName(writer, typeName);
            }
            writer.Write(body);
        }
    }

    private sealed class StringPayload(string value) : ChannelPayload
    {
        public override byte Format => (byte)Formats.String;

        public override long Length => (long)value.Length * 2;

        public override void WriteTo(IPayloadWriter writer) => writer.Write(MemoryMarshal.AsBytes(value.AsSpan()));
    }

    /// <summary>
    /// An array of arrays of unmanaged values (a PMap batch of rows, say), each written straight from
    /// its memory. Such batches used to go through JSON: PMap (reuse) of 1600x1200 Mandelbrot rows
    /// ran at 0.82 of PLINQ's throughput with JSON and 0.93 with this (benchmark, docs/performance.md).
    /// </summary>
    private sealed class JaggedPayload(byte[] typeName, Array jagged) : ChannelPayload
    {
        private readonly long size = ByteSize(jagged.GetType().GetElementType()!.GetElementType()!);

        public override byte Format => (byte)Formats.UnmanagedJagged;

        public override long Length
        {
            get
            {
                long total = 2 + typeName.Length + 4;
                foreach (Array? inner in jagged)
                {
                    total += 8 + (inner is null ? 0 : inner.LongLength * size);
                }
                return total;
            }
        }

        public override void WriteTo(IPayloadWriter writer)
        {
            WriteTypeName(writer, typeName);
            Span<byte> word = stackalloc byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(word, jagged.Length);
            writer.Write(word[..4]);
            foreach (Array? inner in jagged)
            {
                BinaryPrimitives.WriteInt64LittleEndian(word, inner is null ? -1 : inner.LongLength);
                writer.Write(word);
                if (inner is null)
                {
                    continue;
                }
                long bytes = inner.LongLength * size;
                ref byte start = ref MemoryMarshal.GetArrayDataReference(inner);
                for (long offset = 0; offset < bytes; offset += Chunk)
                {
                    int n = (int)Math.Min(Chunk, bytes - offset);
                    writer.Write(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref start, (nint)offset), n));
                }
            }
        }
    }

    /// <summary>An array of unmanaged values, written straight from the array's memory.</summary>
    private sealed class ArrayPayload(byte format, byte[] typeName, Array array) : ChannelPayload
    {
        private readonly long byteLength = (long)array.LongLength * ByteSize(array.GetType().GetElementType()!);

        public override byte Format => format;

        public override long Length => 2 + typeName.Length + byteLength;

        public override void WriteTo(IPayloadWriter writer)
        {
            WriteTypeName(writer, typeName);
            ref byte start = ref MemoryMarshal.GetArrayDataReference(array);
            for (long offset = 0; offset < byteLength; offset += Chunk)
            {
                int count = (int)Math.Min(Chunk, byteLength - offset);
                writer.Write(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref start, (nint)offset), count));
            }
        }
    }
}
