namespace PProcess.Serialization;

/// <summary>
/// The one-byte codes of the values most jobs send and receive (numbers, booleans, characters,
/// decimals, dates), so that such a value crosses as its code and its bytes instead of its type
/// name: a reused job's argument and result are usually one of them. The codes are the
/// <see cref="TypeCode"/> numbers.
/// </summary>
internal static class Primitives
{
    /// <summary>The code of <paramref name="type"/> (its prefix on the wire), or null if it has none.</summary>
    internal static byte[]? CodeOf(Type type)
    {
        if (type.IsEnum)
        {
            // An enum's type code is its underlying type's: it keeps its name, and so its type.
            return null;
        }
        int code = (int)Type.GetTypeCode(type);
        return code is >= (int)TypeCode.Boolean and <= (int)TypeCode.DateTime ? Codes[code] : null;
    }

    /// <summary>The size of a value of the code's type.</summary>
    internal static int SizeOf(byte[] code) => SizeOf(code[0]);

    internal static int SizeOf(byte code) => (TypeCode)code switch
    {
        TypeCode.Boolean or TypeCode.SByte or TypeCode.Byte => 1,
        TypeCode.Char or TypeCode.Int16 or TypeCode.UInt16 => 2,
        TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Single => 4,
        TypeCode.Int64 or TypeCode.UInt64 or TypeCode.Double or TypeCode.DateTime => 8,
        TypeCode.Decimal => 16,
        _ => 0,
    };

    /// <summary>Boxes the value of code <paramref name="code"/> held in <paramref name="bytes"/>.</summary>
    internal static object Box(byte code, ReadOnlySpan<byte> bytes) => (TypeCode)code switch
    {
        TypeCode.Boolean => bytes[0] != 0,
        TypeCode.SByte => (sbyte)bytes[0],
        TypeCode.Byte => bytes[0],
        TypeCode.Char => Read<char>(bytes),
        TypeCode.Int16 => Read<short>(bytes),
        TypeCode.UInt16 => Read<ushort>(bytes),
        TypeCode.Int32 => Read<int>(bytes),
        TypeCode.UInt32 => Read<uint>(bytes),
        TypeCode.Single => Read<float>(bytes),
        TypeCode.Int64 => Read<long>(bytes),
        TypeCode.UInt64 => Read<ulong>(bytes),
        TypeCode.Double => Read<double>(bytes),
        TypeCode.DateTime => Read<DateTime>(bytes),
        TypeCode.Decimal => Read<decimal>(bytes),
        _ => throw new ChannelProtocolException($"Unknown primitive type code {code}."),
    };

    private static T Read<T>(ReadOnlySpan<byte> bytes) where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.Read<T>(bytes);

    private static readonly byte[][] Codes = Enumerable.Range(0, (int)TypeCode.String + 1).Select(c => new[] { (byte)c }).ToArray();
}
