using T = Tmds.Linux.LibC;

namespace PProcess.Native;

/// <summary>Shared anonymous mappings and advice on them (Tmds.LibC).</summary>
internal static unsafe partial class LibC
{
    /// <summary>
    /// mmap(MAP_SHARED | MAP_ANONYMOUS), read-write: memory a child inherits and shares with its
    /// parent. Not MemoryMappedFile, whose views .NET marks MADV_DONTFORK (docs/fork-safety.md,
    /// rule 12). Returns the address, or 0 with errno set.
    /// </summary>
    internal static nint MapShared(nuint length)
    {
        var address = T.mmap(null, (Tmds.Linux.size_t)(ulong)length, T.PROT_READ | T.PROT_WRITE, T.MAP_SHARED | T.MAP_ANONYMOUS, -1, 0);
        return address == T.MAP_FAILED ? 0 : (nint)address;
    }

    internal static int Unmap(nint address, nuint length) => T.munmap((void*)address, (Tmds.Linux.size_t)(ulong)length);

    internal static int Advise(nint address, nuint length, int advice) => T.madvise((void*)address, (Tmds.Linux.size_t)(ulong)length, advice);
}
