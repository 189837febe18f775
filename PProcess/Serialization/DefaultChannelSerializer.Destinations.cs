using System.Buffers.Binary;

namespace PProcess.Serialization;

/// <summary>
/// Large byte arrays and one-dimensional arrays of plain unmanaged values are received straight
/// into their final array (<see cref="IArrayDestinations"/>): the channel's inbox reads their bytes
/// from the transport into it, and the decode hands that array over without copying it again.
/// </summary>
public sealed partial class DefaultChannelSerializer : IArrayDestinations
{
    Array? IArrayDestinations.Destination(byte format, long length, ReadOnlySpan<byte> start, out int prefixLength)
    {
        prefixLength = 0;
        Type element;
        switch ((Formats)format)
        {
            case Formats.Bytes:
                element = typeof(byte);
                break;
            case Formats.UnmanagedArray:
                if (start.Length < 2)
                {
                    prefixLength = 2;
                    return null;
                }
                int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(start);
                if (start.Length < 2 + nameLength)
                {
                    prefixLength = 2 + nameLength;
                    return null;
                }
                if (2 + nameLength > length || !TryResolve(start.Slice(2, nameLength), out element))
                {
                    return null;
                }
                // Plain memory only (numbers, booleans, characters, enums and structs of them): an
                // array of them is harmless to build before the receive says what it expects, which
                // the decode still checks (ExpectedTypes) before it hands the array over.
                if (!TypeNames.IsUnmanaged(element) || !ExpectedTypes.IsPlainMemory(element))
                {
                    return null;
                }
                prefixLength = 2 + nameLength;
                break;
            default:
                return null;
        }
        long bytes = length - prefixLength;
        long size = TypeNames.SizeOf(element);
        if (size == 0 || bytes % size != 0 || bytes / size > Array.MaxLength)
        {
            return null;
        }
        try
        {
            return UninitializedArrays.Create(element, (int)(bytes / size));
        }
        catch (OutOfMemoryException)
        {
            // The segments then hold what arrives, and the decode reports what cannot be allocated.
            return null;
        }
    }

    private static bool TryResolve(ReadOnlySpan<byte> name, out Type type)
    {
        try
        {
            type = TypeNames.Resolve(name);
            return true;
        }
        catch (ChannelProtocolException)
        {
            type = typeof(void);
            return false;
        }
    }
}
