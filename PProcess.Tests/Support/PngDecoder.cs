using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace PProcess.Tests.Support;

/// <summary>A decoded 8-bit RGB image: rows top first, each Width * 3 bytes.</summary>
public sealed record DecodedPng(int Width, int Height, byte[][] Rows);

/// <summary>
/// A small, strict PNG decoder for the tests, independent of the writer under test (its CRC-32
/// is computed bit by bit): signature, IHDR, IDAT chunks concatenated and inflated, IEND; every
/// chunk's CRC checked; 8-bit RGB, not interlaced, with filter types 0-4 undone.
/// </summary>
public static class PngDecoder
{
    private static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static DecodedPng Decode(string path) => Decode(File.ReadAllBytes(path));

    public static DecodedPng Decode(byte[] png)
    {
        if (png.Length < Signature.Length || !png.AsSpan(0, Signature.Length).SequenceEqual(Signature))
        {
            throw new InvalidDataException("not a PNG: wrong signature");
        }
        int position = Signature.Length;
        int width = 0, height = 0;
        bool sawHeader = false, sawEnd = false;
        var idat = new MemoryStream();
        while (!sawEnd)
        {
            if (position + 12 > png.Length)
            {
                throw new InvalidDataException("truncated: no IEND chunk");
            }
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(position));
            if (length < 0 || position + 12 + length > png.Length)
            {
                throw new InvalidDataException($"chunk at {position} has a bad length {length}");
            }
            var typeAndData = png.AsSpan(position + 4, 4 + length);
            string type = Encoding.ASCII.GetString(typeAndData[..4]);
            var data = typeAndData[4..];
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(position + 8 + length));
            uint computed = Crc32(typeAndData);
            if (stored != computed)
            {
                throw new InvalidDataException($"{type} chunk at {position}: CRC {stored:x8} stored, {computed:x8} computed");
            }
            if (!sawHeader && type != "IHDR")
            {
                throw new InvalidDataException($"first chunk is {type}, not IHDR");
            }
            switch (type)
            {
                case "IHDR":
                    if (sawHeader || length != 13)
                    {
                        throw new InvalidDataException("bad or repeated IHDR");
                    }
                    sawHeader = true;
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    if (width <= 0 || height <= 0)
                    {
                        throw new InvalidDataException($"bad size {width}x{height}");
                    }
                    if (data[8] != 8 || data[9] != 2 || data[10] != 0 || data[11] != 0 || data[12] != 0)
                    {
                        throw new InvalidDataException(
                            $"unsupported: bit depth {data[8]}, colour type {data[9]}, compression {data[10]}, filter {data[11]}, interlace {data[12]}");
                    }
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                default:
                    if (char.IsUpper(type[0]))
                    {
                        throw new InvalidDataException($"unsupported critical chunk {type}");
                    }
                    break;
            }
            position += 12 + length;
        }
        if (position != png.Length)
        {
            throw new InvalidDataException($"{png.Length - position} bytes after IEND");
        }
        return new DecodedPng(width, height, Unfilter(Inflate(idat), width, height));
    }

    private static byte[] Inflate(MemoryStream idat)
    {
        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        zlib.CopyTo(raw);
        return raw.ToArray();
    }

    private static byte[][] Unfilter(byte[] raw, int width, int height)
    {
        const int bytesPerPixel = 3;
        int stride = width * bytesPerPixel;
        if (raw.Length != height * (stride + 1))
        {
            throw new InvalidDataException($"{raw.Length} bytes of image data, not {height * (stride + 1)}");
        }
        var rows = new byte[height][];
        var previous = new byte[stride];
        for (int y = 0; y < height; y++)
        {
            int start = y * (stride + 1);
            byte filter = raw[start];
            var row = raw.AsSpan(start + 1, stride).ToArray();
            for (int i = 0; i < stride; i++)
            {
                int left = i >= bytesPerPixel ? row[i - bytesPerPixel] : 0;
                int up = previous[i];
                int upLeft = i >= bytesPerPixel ? previous[i - bytesPerPixel] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => (left + up) / 2,
                    4 => Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"row {y}: unknown filter type {filter}"),
                };
                row[i] = (byte)(row[i] + predictor);
            }
            rows[y] = row;
            previous = row;
        }
        return rows;
    }

    /// <summary>The PNG specification's Paeth predictor.</summary>
    public static int Paeth(int left, int up, int upLeft)
    {
        int p = left + up - upLeft;
        int pa = Math.Abs(p - left), pb = Math.Abs(p - up), pc = Math.Abs(p - upLeft);
        return pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
    }

    /// <summary>CRC-32 as PNG defines it, one bit at a time.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
            }
        }
        return ~crc;
    }
}
