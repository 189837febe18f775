using System.Buffers.Binary;
using System.Text;

namespace PProcess.Runtime;

/// <summary>
/// The runtime's own library, libcoreclr.so, as mapped in this process and as its file says: where
/// it is loaded, its sections, and its import slots. The repairs that must change a child's copy of
/// the runtime's native state (<see cref="DiagnosticEndpointGuard"/>, <see cref="TieringRepair"/>)
/// find what they change here, once, in the parent; the file is read once for both.
/// </summary>
internal sealed class CoreClrImage
{
    private static readonly Lazy<(CoreClrImage? Image, string? Why)> Mapped = new(Load);

    private CoreClrImage(string path, long loadAddress, byte[] file)
    {
        Path = path;
        LoadAddress = loadAddress;
        File = file;
    }

    /// <summary>The library's path, as /proc/self/maps names it.</summary>
    internal string Path { get; }

    /// <summary>The address of its first mapping (file offset 0): a virtual address in the file plus this is one in memory.</summary>
    internal long LoadAddress { get; }

    /// <summary>The whole file.</summary>
    internal byte[] File { get; }

    /// <summary>The image of this process, or null with the reason it cannot be read.</summary>
    internal static CoreClrImage? Current(out string? why)
    {
        var (image, reason) = Mapped.Value;
        why = reason;
        return image;
    }

    /// <summary>A section by name: its virtual address, file offset and size; null when the file has none.</summary>
    internal (long Address, long Offset, long Size)? Section(string name)
    {
        var elf = File.AsSpan();
        return SectionIndex(name) is int index && SectionHeader(elf, index) is var header
            ? (BinaryPrimitives.ReadInt64LittleEndian(header[0x10..]), Offset(header), Size(header))
            : null;
    }

    /// <summary>
    /// The virtual address of the global-offset-table slot through which the library calls
    /// <paramref name="symbol"/>: the offset of its PLT relocation (.rela.plt). -1 when none.
    /// </summary>
    internal long ImportSlot(string symbol)
    {
        var elf = File.AsSpan();
        const int SHT_RELA = 4;
        if (SectionIndex(".rela.plt") is not int index || SectionHeader(elf, index) is var header && BinaryPrimitives.ReadInt32LittleEndian(header[0x04..]) != SHT_RELA)
        {
            return -1;
        }
        var symbols = SectionHeader(elf, BinaryPrimitives.ReadInt32LittleEndian(header[0x28..]));
        var strings = SectionHeader(elf, BinaryPrimitives.ReadInt32LittleEndian(symbols[0x28..]));
        for (long at = Offset(header); at < Offset(header) + Size(header); at += 24)
        {
            long gotOffset = BinaryPrimitives.ReadInt64LittleEndian(elf[(int)at..]);
            long info = BinaryPrimitives.ReadInt64LittleEndian(elf[(int)(at + 8)..]);
            long entry = Offset(symbols) + (info >> 32) * 24;
            if (Name(elf, Offset(strings) + BinaryPrimitives.ReadInt32LittleEndian(elf[(int)entry..])) == symbol)
            {
                return gotOffset;
            }
        }
        return -1;
    }

    /// <summary>The index of the section named <paramref name="name"/> in the section table; null when none.</summary>
    private int? SectionIndex(string name)
    {
        var elf = File.AsSpan();
        int count = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        var names = SectionHeader(elf, BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3E..]));
        for (int i = 0; i < count; i++)
        {
            if (Name(elf, Offset(names) + BinaryPrimitives.ReadInt32LittleEndian(SectionHeader(elf, i))) == name)
            {
                return i;
            }
        }
        return null;
    }

    /// <summary>A libcoreclr.so file that need not be this process's (for tests of other runtimes' files).</summary>
    internal static CoreClrImage Read(string path)
    {
        var file = System.IO.File.ReadAllBytes(path);
        CheckElf(file);
        return new CoreClrImage(path, 0, file);
    }

    private static (CoreClrImage?, string?) Load()
    {
        try
        {
            foreach (var line in System.IO.File.ReadLines("/proc/self/maps"))
            {
                // "start-end perms offset dev inode path"
                var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length == 6 && fields[5].EndsWith("/libcoreclr.so", StringComparison.Ordinal) && Convert.ToInt64(fields[2], 16) == 0)
                {
                    var file = System.IO.File.ReadAllBytes(fields[5]);
                    CheckElf(file);
                    return (new CoreClrImage(fields[5], Convert.ToInt64(fields[0].Split('-')[0], 16), file), null);
                }
            }
            return (null, "libcoreclr.so is not mapped in this process");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or FormatException)
        {
            return (null, e.Message);
        }
    }

    /// <summary>
    /// A little-endian ELF64 file whose first loadable segment is at virtual address 0 (true of every
    /// shared library the toolchains build): then an address in the file plus the load address is
    /// the address in memory.
    /// </summary>
    private static void CheckElf(ReadOnlySpan<byte> elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7F || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
        {
            throw new BadImageFormatException("libcoreclr.so is not a little-endian ELF64 file");
        }
        long programTable = BinaryPrimitives.ReadInt64LittleEndian(elf[0x20..]);
        int programSize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x36..]);
        int programCount = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x38..]);
        for (int i = 0; i < programCount; i++)
        {
            var program = elf.Slice((int)(programTable + (long)i * programSize), programSize);
            const int PT_LOAD = 1;
            if (BinaryPrimitives.ReadInt32LittleEndian(program) == PT_LOAD)
            {
                if (BinaryPrimitives.ReadInt64LittleEndian(program[0x10..]) != 0)
                {
                    throw new BadImageFormatException("libcoreclr.so's first loadable segment is not at address 0");
                }
                return;
            }
        }
        throw new BadImageFormatException("libcoreclr.so has no loadable segment");
    }

    private static long Offset(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt64LittleEndian(header[0x18..]);

    private static long Size(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt64LittleEndian(header[0x20..]);

    /// <summary>Entry <paramref name="index"/> of the section table (its offset and entry size are in the ELF header).</summary>
    private static ReadOnlySpan<byte> SectionHeader(ReadOnlySpan<byte> elf, int index)
    {
        long table = BinaryPrimitives.ReadInt64LittleEndian(elf[0x28..]);
        int size = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        return elf.Slice((int)(table + (long)index * size), size);
    }

    private static string Name(ReadOnlySpan<byte> elf, long at)
    {
        var rest = elf[(int)at..];
        return Encoding.ASCII.GetString(rest[..rest.IndexOf((byte)0)]);
    }
}
