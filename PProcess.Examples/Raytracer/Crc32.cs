namespace PProcess.Examples.Raytracer;

/// <summary>
/// CRC-32 (ISO-HDLC, polynomial 0xEDB88320 reflected, as PNG and zlib use), table-driven.
/// Hand-written because System.IO.Hashing is not served by this machine's package sources
/// (docs/dependencies.md).
/// </summary>
public static class Crc32
{
    private static readonly uint[] Table = CreateTable();

    /// <summary>The CRC of <paramref name="data"/> continued from a previous <see cref="Append"/>'s result (0 to start).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        foreach (byte b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }
        return ~crc;
    }

    /// <summary>The CRC of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    private static uint[] CreateTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            }
            table[n] = c;
        }
        return table;
    }
}
