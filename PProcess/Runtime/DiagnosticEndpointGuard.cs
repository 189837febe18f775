using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace PProcess.Runtime;

/// <summary>
/// Keeps a child's runtime from deleting the parent's diagnostic endpoints. The runtime's shutdown
/// (run by <see cref="Environment.Exit(int)"/>, a return from Main, <see cref="Environment.FailFast(string)"/>
/// or a fatal error) unlinks the files of its diagnostics server and debugger transport, named
/// after the pid they were created for: in a child that is the parent's, and dotnet-trace,
/// dotnet-counters and debuggers could no longer attach to the parent (measured: docs/fork-safety.md,
/// rule 20). A child does not own those files, so its copy of libcoreclr gets an <c>unlink</c>
/// that does nothing: its import slot (global offset table) is pointed at <c>getpid</c>, which
/// takes no argument and changes nothing. Only libcoreclr's slot is changed; the child's own file
/// deletions go through System.Native's <c>unlink</c>, which is untouched.
/// </summary>
internal static unsafe class DiagnosticEndpointGuard
{
    private static readonly Lazy<(nint Slot, nint Replacement)> Target = new(Find);

    /// <summary>Why the guard is not in force, or null when it is.</summary>
    internal static string? Unavailable { get; private set; }

    /// <summary>In the parent: finds the slot once, so that a child only writes one pointer.</summary>
    internal static void Prepare() => _ = Target.Value;

    /// <summary>In the child, before user code.</summary>
    internal static void DisarmInChild()
    {
        var (slot, replacement) = Target.Value;
        if (slot == 0)
        {
            return;
        }
        nint page = slot & ~(nint)(Environment.SystemPageSize - 1);
        // The slot is in a read-only area after relocation (RELRO): make its page writable here.
        if (Native.LibC.Mprotect(page, (nuint)Environment.SystemPageSize, Native.LibC.PROT_READ | Native.LibC.PROT_WRITE) == 0)
        {
            *(nint*)slot = replacement;
        }
    }

    private static (nint, nint) Find()
    {
        try
        {
            var (path, bias) = FindLibrary("libcoreclr.so");
            if (path is null)
            {
                Unavailable = "libcoreclr.so is not mapped in this process";
                return (0, 0);
            }
            long offset = ImportSlot(File.ReadAllBytes(path), "unlink");
            if (offset < 0)
            {
                Unavailable = "libcoreclr.so imports no unlink";
                return (0, 0);
            }
            nint replacement = NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "getpid");
            return ((nint)(bias + offset), replacement);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or ArgumentException or EntryPointNotFoundException or DllNotFoundException)
        {
            Unavailable = e.Message;
            return (0, 0);
        }
    }

    /// <summary>The path of a mapped library and its load address (the start of its mapping at file offset 0).</summary>
    private static (string? Path, long Bias) FindLibrary(string name)
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // "start-end perms offset dev inode path"
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 6 && fields[5].EndsWith("/" + name, StringComparison.Ordinal) && Convert.ToInt64(fields[2], 16) == 0)
            {
                return (fields[5], Convert.ToInt64(fields[0].Split('-')[0], 16));
            }
        }
        return (null, 0);
    }

    /// <summary>
    /// The virtual address of the global-offset-table slot through which an ELF64 shared library
    /// calls <paramref name="symbol"/>: the offset of its PLT relocation (.rela.plt). -1 when none.
    /// The library's first loadable segment is at virtual address 0 (true of every shared library
    /// the toolchains build), so the slot's address is the load address plus this.
    /// </summary>
    internal static long ImportSlot(ReadOnlySpan<byte> elf, string symbol)
    {
        if (elf.Length < 64 || elf[0] != 0x7F || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
        {
            throw new BadImageFormatException("not a little-endian ELF64 file");
        }
        // The first program header of type PT_LOAD must start at virtual address 0 (see above).
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
                    throw new BadImageFormatException("its first loadable segment is not at address 0");
                }
                break;
            }
        }
        long sectionTable = BinaryPrimitives.ReadInt64LittleEndian(elf[0x28..]);
        int sectionSize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        int sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        int namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3E..]);
        static long Offset(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt64LittleEndian(header[0x18..]);
        static long Size(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt64LittleEndian(header[0x20..]);
        static int Link(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt32LittleEndian(header[0x28..]);
        static int Type(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt32LittleEndian(header[0x04..]);
        var names = Section(elf, sectionTable, sectionSize, namesIndex);
        for (int i = 0; i < sectionCount; i++)
        {
            var header = Section(elf, sectionTable, sectionSize, i);
            const int SHT_RELA = 4;
            if (Type(header) != SHT_RELA || Name(elf, Offset(names) + BinaryPrimitives.ReadInt32LittleEndian(header)) != ".rela.plt")
            {
                continue;
            }
            var symbols = Section(elf, sectionTable, sectionSize, Link(header));
            var strings = Section(elf, sectionTable, sectionSize, Link(symbols));
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
        }
        return -1;
    }

    private static ReadOnlySpan<byte> Section(ReadOnlySpan<byte> elf, long table, int size, int index) =>
        elf.Slice((int)(table + (long)index * size), size);

    private static string Name(ReadOnlySpan<byte> elf, long at)
    {
        var rest = elf[(int)at..];
        return Encoding.ASCII.GetString(rest[..rest.IndexOf((byte)0)]);
    }
}
