using System.Text.Json;
using System.Text.Json.Serialization;
using PProcess.Errors;

namespace PProcess.Serialization;

/// <summary>
/// The default serializer. Strings, arrays of strings, byte arrays, unmanaged values (primitives,
/// enums, structs without references), arrays of them (of any rank) and arrays of such arrays
/// cross as their raw bytes, with no JSON and no copy on the sending side: what a PMap chunk of
/// such results is crosses as one raw message of any size a .NET array or string can have. An
/// array of other arrays, or whose elements are of other types than its element type (an
/// <c>object[]</c>, say), crosses element by element, each with its own format and type. Everything else goes through System.Text.Json with
/// the value's runtime type. An exception sent as a value arrives as a <see cref="RemoteException"/>
/// object. The wire format of each kind is in docs/channels.md.
/// </summary>
public sealed partial class DefaultChannelSerializer : IChannelSerializer
{
    /// <summary>The payload formats; the numbers are on the wire (docs/channels.md, "Serialisation").</summary>
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
        StringArray = 8,
        Primitive = 9,
        UnmanagedMultiArray = 10,
        Elements = 11,
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
                return SpanPayload.Null;
            case string s:
                return new StringPayload(s);
            case byte[] bytes when bytes.GetType() == typeof(byte[]):
                // (An sbyte[] passes "is byte[]" in the runtime: it takes the unmanaged array path and stays an sbyte[].)
                return new SpanPayload((byte)Formats.Bytes, [], bytes);
            case string?[] strings:
                return new StringArrayPayload(strings);
            case Exception e:
                return new SpanPayload((byte)Formats.Exception, [], RemoteError.From(e).ToBoundedJson());
            case Array array when SerializeArray(array) is { } raw:
                return raw;
        }
        var type = value.GetType();
        if (Primitives.CodeOf(type) is { } code)
        {
            return new ScalarPayload((byte)Formats.Primitive, code, value, Primitives.SizeOf(code));
        }
        if (TypeNames.IsUnmanaged(type))
        {
            return new ScalarPayload((byte)Formats.UnmanagedScalar, TypeNames.NameOf(type), value, TypeNames.SizeOf(type));
        }
        return new SpanPayload((byte)Formats.Json, TypeNames.NameOf(type), JsonSerializer.SerializeToUtf8Bytes(value, type, JsonOptions));
    }

    /// <summary>The raw payload of an array, or null when it takes the JSON path.</summary>
    private ChannelPayload? SerializeArray(Array array)
    {
        var type = array.GetType();
        var element = type.GetElementType()!;
        if (TypeNames.IsUnmanaged(element))
        {
            return type.IsSZArray
                ? new ArrayPayload((byte)Formats.UnmanagedArray, TypeNames.NameOf(element), array)
                : new MultiArrayPayload(TypeNames.NameOf(element), array);
        }
        if (!type.IsSZArray)
        {
            return null;
        }
        if (element.IsSZArray && element.GetElementType() is { } inner && TypeNames.IsUnmanaged(inner))
        {
            return new JaggedPayload(TypeNames.NameOf(inner), array);
        }
        if (!element.IsValueType && (element.IsArray || HoldsOtherTypes((object?[])array, element)))
        {
            // Element by element, each with its own format: arrays of arrays (of strings, of
            // several dimensions) keep their raw paths, and values of other types than the element
            // type keep their types (JSON would read an object[]'s values back as JsonElement).
            return new ElementsPayload(TypeNames.NameOf(element), (object?[])array, this);
        }
        return null;
    }

    private static bool HoldsOtherTypes(object?[] array, Type element)
    {
        foreach (var item in array)
        {
            if (item is not null && item.GetType() != element)
            {
                return true;
            }
        }
        return false;
    }

    /// <inheritdoc />
    public object? Deserialize(byte format, long length, IPayloadReader reader) => Deserialize(format, length, reader, typeof(object));

    /// <summary>
    /// Decodes a value for a receive that expects a <paramref name="expected"/>: a type named by the
    /// message is built only if the receive expects it (docs/channels.md, "Which types are built");
    /// others are refused with <see cref="ChannelProtocolException"/> before anything of them is built.
    /// The formats without a type name (strings, byte arrays, primitives) are always read: the
    /// channel's cast then says if they are not what was expected.
    /// </summary>
    public object? Deserialize(byte format, long length, IPayloadReader reader, Type expected) => (Formats)format switch
    {
        Formats.Null => null,
        Formats.String => ReadString(length, reader),
        Formats.Bytes => ReadBytes(length, reader),
        Formats.StringArray => ReadStrings(length, reader),
        Formats.Primitive => ReadPrimitive(length, reader),
        Formats.UnmanagedScalar => ReadScalar(length, reader, expected),
        Formats.UnmanagedArray => ReadArray(length, reader, expected),
        Formats.UnmanagedMultiArray => ReadMultiArray(length, reader, expected),
        Formats.UnmanagedJagged => ReadJagged(length, reader, expected),
        Formats.Elements => ReadElements(length, reader, expected),
        Formats.Json => ReadJson(length, reader, expected),
        Formats.Exception => ReadException(length, reader),
        _ => throw new ChannelProtocolException($"Unknown payload format {format}."),
    };

    /// <summary>
    /// For serializers that name types on the wire as this one does: the type named by
    /// <paramref name="name"/>, found only among the assemblies this process has loaded (a name never
    /// loads one), and only if a receive that expects a <paramref name="expected"/> may build it
    /// (docs/channels.md, "Which types are built"); otherwise <see cref="ChannelProtocolException"/>.
    /// </summary>
    public static Type ResolveExpected(string name, Type expected)
    {
        var type = TypeNames.Resolve(name);
        ExpectedTypes.Check(type, expected, raw: false);
        return type;
    }

    private object? ReadJson(long length, IPayloadReader reader, Type expected)
    {
        var type = ReadTypeName(reader, ref length);
        ExpectedTypes.Check(type, expected, raw: false);
        return WithBuffer(length, reader, (type, JsonOptions), static (span, state) => JsonSerializer.Deserialize(span, state.type, state.JsonOptions));
    }

    private RemoteException ReadException(long length, IPayloadReader reader)
    {
        var error = WithBuffer(length, reader, JsonOptions, static (span, options) => RemoteError.Parse(span, options))
            ?? throw new ChannelProtocolException("An exception payload was empty.");
        return new RemoteException(error, 0, null);
    }
}
