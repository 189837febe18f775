using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace PProcess.Examples.Raytracer;

/// <summary>
/// A minimal PNG writer: 8-bit RGB, no interlacing, filter type 0 (None) on every row, the
/// image data compressed with zlib and split into IDAT chunks.
/// </summary>
public static class Png
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The largest IDAT chunk written; bigger images get several.</summary>
    private const int MaxIdatLength = 32 * 1024;

    /// <summary>Writes the PNG to a new file at <paramref name="path"/> (replacing one that is there).</summary>
    public static void Write(string path, int width, int height, IReadOnlyList<byte[]> rgbRows)
    {
        using var file = File.Create(path);
        Write(file, width, height, rgbRows);
    }

    /// <summary>
    /// Writes the PNG of <paramref name="rgbRows"/> (top row first, each <paramref name="width"/> * 3
    /// bytes of R, G, B) to <paramref name="stream"/>, which stays open.
    /// </summary>
    public static void Write(Stream stream, int width, int height, IReadOnlyList<byte[]> rgbRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (rgbRows.Count != height)
        {
            throw new ArgumentException($"{rgbRows.Count} rows for an image {height} high.", nameof(rgbRows));
        }
        for (int y = 0; y < height; y++)
        {
            if (rgbRows[y].Length != width * 3)
            {
                throw new ArgumentException($"row {y} has {rgbRows[y].Length} bytes, not {width * 3} ({width} RGB pixels).", nameof(rgbRows));
            }
        }

        stream.Write(Signature);

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(0), width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type: RGB
        header[10] = 0; // compression: deflate
        header[11] = 0; // filter method 0
        header[12] = 0; // no interlace
        WriteChunk(stream, "IHDR", header);

        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            foreach (var row in rgbRows)
            {
                zlib.WriteByte(0); // filter type 0: None
                zlib.Write(row);
            }
        }
        var data = compressed.GetBuffer().AsSpan(0, (int)compressed.Length);
        for (int start = 0; start < data.Length; start += MaxIdatLength)
        {
            WriteChunk(stream, "IDAT", data.Slice(start, Math.Min(MaxIdatLength, data.Length - start)));
        }

        WriteChunk(stream, "IEND", []);
    }

    /// <summary>Length, type, data, and the CRC-32 of type and data.</summary>
    private static void WriteChunk(Stream stream, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Append(Crc32.Compute(typeBytes), data));
        stream.Write(word);
    }
}
