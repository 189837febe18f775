using System.Buffers.Binary;
using PProcess.Errors;

namespace PProcess.Channels;

/// <summary>What a frame carries.</summary>
internal enum FrameKind : byte
{
    /// <summary>A value, decoded by the channel's serializer.</summary>
    Value = 1,
    /// <summary>An exception thrown by the sender's code, as a <see cref="RemoteError"/>.</summary>
    Error = 2,
    /// <summary>A message of the library's own (job hand-over in reuse mode, quit).</summary>
    Control = 3,
}

/// <summary>
/// The 16-byte frame header: magic "PP", version, kind, payload format, three reserved bytes,
/// then the payload length as a little-endian 64-bit integer. Any size a .NET array can hold
/// fits; a header that does not parse is reported as garbage instead of being trusted.
/// </summary>
internal static class Frame
{
    internal const int HeaderSize = 16;
    private const byte Magic0 = (byte)'P', Magic1 = (byte)'P', Version = 1;

    internal static void WriteHeader(Span<byte> header, FrameKind kind, byte format, long length)
    {
        header[0] = Magic0;
        header[1] = Magic1;
        header[2] = Version;
        header[3] = (byte)kind;
        header[4] = format;
        header[5] = header[6] = header[7] = 0;
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], length);
    }

    /// <summary>Parses a header, or returns a description of what is wrong with it.</summary>
    internal static string? TryParse(ReadOnlySpan<byte> header, out FrameKind kind, out byte format, out long length)
    {
        kind = (FrameKind)header[3];
        format = header[4];
        length = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        if (header[0] != Magic0 || header[1] != Magic1)
        {
            return $"bad magic bytes 0x{header[0]:x2} 0x{header[1]:x2} (not a PProcess frame)";
        }
        if (header[2] != Version)
        {
            return $"unsupported frame version {header[2]}";
        }
        if (kind is not (FrameKind.Value or FrameKind.Error or FrameKind.Control))
        {
            return $"unknown frame kind {header[3]}";
        }
        if (length < 0)
        {
            return $"negative payload length {length}";
        }
        return null;
    }
}
