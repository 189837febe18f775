using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using MemoryPack;

namespace PProcess.Serialization;

/// <summary>
/// A channel serializer that sends values of <see cref="MemoryPackableAttribute"/> types (records,
/// and lists, arrays and dictionaries of them) in MemoryPack's binary form instead of the JSON of
/// <see cref="DefaultChannelSerializer"/>. Everything the default serializer already sends as raw
/// bytes (null, strings, byte arrays, unmanaged values and arrays of them, exceptions) and every
/// type MemoryPack has no formatter for goes through <see cref="Fallback"/> unchanged, so any value
/// the default serializer carries is still carried. Thread-safe.
/// </summary>
/// <remarks>
/// A type is tried with MemoryPack the first time it is sent; if MemoryPack refuses it (a class
/// without <c>[MemoryPackable]</c>, say), that value and every later one of the type go through
/// <see cref="Fallback"/>. Both ends of a channel must use this serializer: the child is a fork
/// of the parent, so it has the same object.
/// </remarks>
public sealed class MemoryPackChannelSerializer : IChannelSerializer
{
    /// <summary>The payload format of a MemoryPack value: a type name, then MemoryPack's bytes. The default serializer's formats are below 64.</summary>
    public const byte MemoryPackFormat = 64;

    private readonly ConcurrentDictionary<Type, bool> refused = new();
    private static readonly ConcurrentDictionary<Type, bool> RawTypes = new();
    private static readonly ConcurrentDictionary<Type, byte[]> Names = new();

    /// <summary>The shared instance, falling back to <see cref="DefaultChannelSerializer.Instance"/>.</summary>
    public static MemoryPackChannelSerializer Instance { get; } = new();

    /// <summary>Creates a serializer; <paramref name="fallback"/> (by default <see cref="DefaultChannelSerializer.Instance"/>) carries what MemoryPack does not.</summary>
    public MemoryPackChannelSerializer(IChannelSerializer? fallback = null, MemoryPackSerializerOptions? options = null)
    {
        Fallback = fallback ?? DefaultChannelSerializer.Instance;
        Options = options ?? MemoryPackSerializerOptions.Default;
    }

    /// <summary>The serializer of the values MemoryPack does not carry.</summary>
    public IChannelSerializer Fallback { get; }

    /// <summary>MemoryPack's options.</summary>
    public MemoryPackSerializerOptions Options { get; }

    /// <inheritdoc />
    public ChannelPayload Serialize(object? value)
    {
        if (value is null or string or Exception || IsRaw(value.GetType()) || refused.ContainsKey(value.GetType()))
        {
            return Fallback.Serialize(value);
        }
        var type = value.GetType();
        byte[] bytes;
        try
        {
            bytes = MemoryPackSerializer.Serialize(type, value, Options);
        }
        catch (MemoryPackSerializationException)
        {
            // No formatter for this type (or for something inside it): the fallback carries it.
            refused.TryAdd(type, true);
            return Fallback.Serialize(value);
        }
        return new Payload(NameOf(type), bytes);
    }

    /// <inheritdoc />
    public object? Deserialize(byte format, long length, IPayloadReader reader) => Deserialize(format, length, reader, typeof(object));

    /// <inheritdoc />
    public object? Deserialize(byte format, long length, IPayloadReader reader, Type expected)
    {
        if (format != MemoryPackFormat)
        {
            return Fallback.Deserialize(format, length, reader, expected);
        }
        Span<byte> prefix = stackalloc byte[2];
        reader.ReadExactly(prefix);
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix);
        if (nameLength + 2 > length)
        {
            throw new ChannelProtocolException("A MemoryPack payload's type name runs past its end.");
        }
        int size = checked((int)(length - 2));
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            reader.ReadExactly(buffer.AsSpan(0, size));
            // Only a type this receive expects, among the loaded assemblies (docs/channels.md, "Which types are built").
            var type = DefaultChannelSerializer.ResolveExpected(Encoding.UTF8.GetString(buffer, 0, nameLength), expected);
            return MemoryPackSerializer.Deserialize(type, buffer.AsSpan(nameLength, size - nameLength), Options);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// True for the types the default serializer sends as raw bytes: unmanaged values, arrays of
    /// strings, arrays of unmanaged values (of any rank) and arrays of such arrays. MemoryPack would
    /// only add a copy, and a byte array's 2 GiB limit.
    /// </summary>
    private static bool IsRaw(Type type) => RawTypes.GetOrAdd(type, static t =>
        IsUnmanaged(t) || t == typeof(string[])
        || (t.IsArray && t.GetElementType() is { } element
            && (IsUnmanaged(element) || (t.IsSZArray && element.IsSZArray && IsUnmanaged(element.GetElementType()!)))));

    private static bool IsUnmanaged(Type type) =>
        type.IsValueType && !type.ContainsGenericParameters
        && !(bool)IsReferenceOrContainsReferences.MakeGenericMethod(type).Invoke(null, null)!;

    private static readonly MethodInfo IsReferenceOrContainsReferences =
        typeof(RuntimeHelpers).GetMethod(nameof(RuntimeHelpers.IsReferenceOrContainsReferences))!;

    /// <summary>Parent and child run the same binary, so a type's name resolves at the other end.</summary>
    private static byte[] NameOf(Type type) => Names.GetOrAdd(type, static t =>
        Encoding.UTF8.GetBytes(t.Assembly == typeof(object).Assembly ? t.FullName! : t.AssemblyQualifiedName!));

    /// <summary>A type name (16-bit length, UTF-8) and MemoryPack's bytes.</summary>
    private sealed class Payload(byte[] typeName, byte[] body) : ChannelPayload
    {
        public override byte Format => MemoryPackFormat;

        public override long Length => 2 + typeName.Length + body.LongLength;

        public override void WriteTo(IPayloadWriter writer)
        {
            Span<byte> prefix = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(prefix, checked((ushort)typeName.Length));
            writer.Write(prefix);
            writer.Write(typeName);
            writer.Write(body);
        }
    }
}
