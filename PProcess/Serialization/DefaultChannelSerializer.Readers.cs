using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace PProcess.Serialization;

/// <summary>
/// The receiving side: each wire format read back into a fresh value, checking every count and
/// length against the payload's size before allocating, so that garbage cannot ask for more
/// memory than its message carries.
/// </summary>
public sealed partial class DefaultChannelSerializer
{
    private static byte[] ReadBytes(long length, IPayloadReader reader)
    {
        if (reader is IPreparedArrayReader prepared && prepared.TakeArray(typeof(byte), length) is byte[] received)
        {
            return received;
        }
        var bytes = GC.AllocateUninitializedArray<byte>(checked((int)length));
        ReadMemory(reader, ref MemoryMarshal.GetArrayDataReference(bytes), length);
        return bytes;
    }

    private static string ReadString(long length, IPayloadReader reader)
    {
        if (length % 2 != 0)
        {
            throw new ChannelProtocolException($"A string payload has an odd length ({length}).");
        }
        return NewString(length / 2, reader);
    }

    private static string NewString(long chars, IPayloadReader reader) =>
        chars == 0 ? string.Empty
        : string.Create(checked((int)chars), reader, static (span, r) =>
            ReadMemory(r, ref Unsafe.As<char, byte>(ref MemoryMarshal.GetReference(span)), (long)span.Length * 2));

    /// <summary>An array of strings: the count, each string's length (-1: null), then the strings' code units.</summary>
    private static string?[] ReadStrings(long length, IPayloadReader reader)
    {
        int count = ReadCount(reader, ref length, 4, "strings");
        var lengths = new int[count];
        ReadMemory(reader, ref Unsafe.As<int, byte>(ref MemoryMarshal.GetArrayDataReference(lengths)), 4L * count);
        length -= 4L * count;
        long chars = 0;
        foreach (int n in lengths)
        {
            if (n < -1)
            {
                throw new ChannelProtocolException($"A string array payload holds a string of length {n}.");
            }
            chars += Math.Max(n, 0);
        }
        if (chars * 2 != length)
        {
            throw new ChannelProtocolException($"A string array payload announces {chars} characters but holds {length} bytes of them.");
        }
        var strings = new string?[count];
        for (int i = 0; i < count; i++)
        {
            strings[i] = lengths[i] < 0 ? null : NewString(lengths[i], reader);
        }
        return strings;
    }

    /// <summary>A primitive value: its <see cref="TypeCode"/>, then its bytes.</summary>
    private static object ReadPrimitive(long length, IPayloadReader reader)
    {
        Span<byte> bytes = stackalloc byte[17];
        if (length is < 2 or > 17)
        {
            throw new ChannelProtocolException($"A primitive payload of {length} bytes is malformed.");
        }
        reader.ReadExactly(bytes[..(int)length]);
        if (Primitives.SizeOf(bytes[0]) != length - 1)
        {
            throw new ChannelProtocolException($"A primitive payload of type code {bytes[0]} has {length - 1} bytes.");
        }
        return Primitives.Box(bytes[0], bytes[1..(int)length]);
    }

    /// <summary>One unmanaged value: its type name, then its bytes, read straight into a new box.</summary>
    private static object ReadScalar(long length, IPayloadReader reader, Type expected)
    {
        var type = ReadTypeName(reader, ref length);
        if (!TypeNames.IsUnmanaged(type) || TypeNames.SizeOf(type) != length)
        {
            throw new ChannelProtocolException($"A payload of {length} bytes cannot hold a value of {type}.");
        }
        ExpectedTypes.Check(type, expected, raw: true);
        var box = RuntimeHelpers.GetUninitializedObject(type);
        reader.ReadExactly(MemoryMarshal.CreateSpan(ref DataOf(box), (int)length));
        return box;
    }

    /// <summary>A one-dimensional array of unmanaged values: the element type name, then the memory.</summary>
    private static Array ReadArray(long length, IPayloadReader reader, Type expected)
    {
        var type = ReadUnmanagedTypeName(reader, ref length);
        ExpectedTypes.Check(type.MakeArrayType(), expected, raw: true);
        long size = TypeNames.SizeOf(type);
        if (length % size != 0)
        {
            throw new ChannelProtocolException($"A payload of {length} bytes cannot hold values of {type} ({size} bytes each).");
        }
        if (reader is IPreparedArrayReader prepared && prepared.TakeArray(type, length) is { } received)
        {
            // The channel read the values straight into their array as they arrived.
            return received;
        }
        var array = Array.CreateInstance(type, length / size);
        ReadMemory(reader, ref MemoryMarshal.GetArrayDataReference(array), length);
        return array;
    }

    /// <summary>An array of rank 2 or more: the element type name, the rank, each dimension's length and lower bound, then the memory.</summary>
    private static Array ReadMultiArray(long length, IPayloadReader reader, Type expected)
    {
        var type = ReadUnmanagedTypeName(reader, ref length);
        Span<byte> word = stackalloc byte[8];
        if (length < 1)
        {
            throw new ChannelProtocolException($"A payload of a multidimensional array of {type} is malformed.");
        }
        reader.ReadExactly(word[..1]);
        int rank = word[0];
        length -= 1;
        if (rank < 1 || rank > 32 || length < 8L * rank)
        {
            throw new ChannelProtocolException($"A payload of a multidimensional array of {type} has a bad rank ({rank}).");
        }
        ExpectedTypes.Check(type.MakeArrayType(rank), expected, raw: true);
        var lengths = new int[rank];
        var lowerBounds = new int[rank];
        long elements = 1;
        for (int d = 0; d < rank; d++)
        {
            reader.ReadExactly(word);
            lengths[d] = BinaryPrimitives.ReadInt32LittleEndian(word);
            lowerBounds[d] = BinaryPrimitives.ReadInt32LittleEndian(word[4..]);
            if (lengths[d] < 0)
            {
                throw new ChannelProtocolException($"A payload of a multidimensional array of {type} has a negative length.");
            }
            elements = checked(elements * lengths[d]);
        }
        length -= 8L * rank;
        if (elements * TypeNames.SizeOf(type) != length)
        {
            throw new ChannelProtocolException($"A payload of {length} bytes cannot hold {elements} values of {type}.");
        }
        var array = Array.CreateInstance(type, lengths, lowerBounds);
        ReadMemory(reader, ref MemoryMarshal.GetArrayDataReference(array), length);
        return array;
    }

    /// <summary>An array of arrays of unmanaged values: the element type, the count, then each array's length (-1: null) and raw bytes.</summary>
    private static Array ReadJagged(long length, IPayloadReader reader, Type expected)
    {
        var type = ReadUnmanagedTypeName(reader, ref length);
        ExpectedTypes.Check(type.MakeArrayType().MakeArrayType(), expected, raw: true);
        long size = TypeNames.SizeOf(type);
        Span<byte> word = stackalloc byte[8];
        int count = ReadCount(reader, ref length, 8, $"arrays of {type}");
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
            ReadMemory(reader, ref MemoryMarshal.GetArrayDataReference(inner), elements * size);
            length -= elements * size;
            outer.SetValue(inner, i);
        }
        if (length != 0)
        {
            throw new ChannelProtocolException($"A payload of arrays of {type} has {length} bytes left over.");
        }
        return outer;
    }

    /// <summary>An array whose elements cross one by one: the element type name, the count, then each element's format, length and payload.</summary>
    private Array ReadElements(long length, IPayloadReader reader, Type expected)
    {
        var type = ReadTypeName(reader, ref length);
        if (type.IsValueType || type.IsPointer || type.IsByRef || type.ContainsGenericParameters)
        {
            throw new ChannelProtocolException($"A payload of elements names {type}, which cannot be an array's element type here.");
        }
        ExpectedTypes.Check(type.MakeArrayType(), expected, raw: false);
        if (++nesting > MaxNesting)
        {
            nesting = 0;
            throw new ChannelProtocolException($"A payload nests arrays sent element by element more than {MaxNesting} deep.");
        }
        try
        {
            return ReadElements(type, length, reader);
        }
        finally
        {
            nesting = Math.Max(0, nesting - 1);
        }
    }

    /// <summary>How deep arrays sent element by element may nest: each level is a call, and a forged payload could nest millions.</summary>
    private const int MaxNesting = 64;

    [ThreadStatic]
    private static int nesting;

    private Array ReadElements(Type type, long length, IPayloadReader reader)
    {
        int count = ReadCount(reader, ref length, 9, $"values of {type}");
        var array = (object?[])Array.CreateInstance(type, count);
        Span<byte> header = stackalloc byte[9];
        for (int i = 0; i < count; i++)
        {
            reader.ReadExactly(header);
            long size = BinaryPrimitives.ReadInt64LittleEndian(header[1..]);
            length -= 9;
            if (size < 0 || size > length)
            {
                throw new ChannelProtocolException($"Element {i} of {count} claims {size} bytes, more than its payload holds.");
            }
            var bounded = new BoundedReader(reader, size);
            var item = Deserialize(header[0], size, bounded, type);
            if (bounded.Remaining != 0)
            {
                throw new ChannelProtocolException($"Element {i} of {count} left {bounded.Remaining} of its {size} bytes unread.");
            }
            if (item is not null && !type.IsInstanceOfType(item))
            {
                throw new ChannelProtocolException($"Element {i} of an array of {type} is a {item.GetType()}.");
            }
            array[i] = item;
            length -= size;
        }
        if (length != 0)
        {
            throw new ChannelProtocolException($"A payload of an array of {type} has {length} bytes left over.");
        }
        return array;
    }

    /// <summary>Reads a 32-bit count of items of at least <paramref name="minimumSize"/> bytes each, checked against what is left.</summary>
    private static int ReadCount(IPayloadReader reader, ref long length, int minimumSize, string what)
    {
        if (length < 4)
        {
            throw new ChannelProtocolException($"A payload of {what} is too short to hold its count.");
        }
        Span<byte> word = stackalloc byte[4];
        reader.ReadExactly(word);
        int count = BinaryPrimitives.ReadInt32LittleEndian(word);
        length -= 4;
        if (count < 0 || count > length / minimumSize)
        {
            throw new ChannelProtocolException($"A payload of {length} bytes cannot hold {count} {what}.");
        }
        return count;
    }

    private static Type ReadTypeName(IPayloadReader reader, ref long length)
    {
        Span<byte> prefix = stackalloc byte[2];
        if (length < 2)
        {
            throw new ChannelProtocolException("A payload is too short to hold its type name.");
        }
        reader.ReadExactly(prefix);
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix);
        if (nameLength + 2 > length)
        {
            throw new ChannelProtocolException("A payload's type name runs past its end.");
        }
        var name = nameLength <= 512 ? stackalloc byte[nameLength] : new byte[nameLength];
        reader.ReadExactly(name);
        length -= 2 + nameLength;
        return TypeNames.Resolve(name);
    }

    private static Type ReadUnmanagedTypeName(IPayloadReader reader, ref long length)
    {
        var type = ReadTypeName(reader, ref length);
        if (!TypeNames.IsUnmanaged(type) || TypeNames.SizeOf(type) == 0)
        {
            throw new ChannelProtocolException($"A payload of raw values names {type}, which is not an unmanaged type.");
        }
        return type;
    }

    private static T WithBuffer<TState, T>(long length, IPayloadReader reader, TState state, SpanDecoder<TState, T> decode)
    {
        int size = checked((int)length);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            reader.ReadExactly(buffer.AsSpan(0, size));
            return decode(buffer.AsSpan(0, size), state);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private delegate T SpanDecoder<in TState, out T>(ReadOnlySpan<byte> span, TState state);

    /// <summary>Reads <paramref name="byteLength"/> bytes into memory from <paramref name="start"/>, in chunks a span can hold.</summary>
    private static void ReadMemory(IPayloadReader reader, ref byte start, long byteLength)
    {
        FreshMemory.PrepareForFill(ref start, byteLength);
        for (long offset = 0; offset < byteLength; offset += Chunk)
        {
            int count = (int)Math.Min(Chunk, byteLength - offset);
            reader.ReadExactly(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref start, (nint)offset), count));
        }
    }

    /// <summary>Reads one element of an array sent element by element: at most its own bytes.</summary>
    private sealed class BoundedReader(IPayloadReader inner, long size) : IPayloadReader
    {
        internal long Remaining { get; private set; } = size;

        public void ReadExactly(Span<byte> buffer)
        {
            if (buffer.Length > Remaining)
            {
                throw new ChannelProtocolException("An element of an array was read past its end.");
            }
            inner.ReadExactly(buffer);
            Remaining -= buffer.Length;
        }
    }
}
