using System.Runtime.InteropServices;

namespace PProcess.Benchmarks;

/// <summary>The bare calls for the baseline fork loop (the library's own are internal).</summary>
internal static partial class Native
{
    [LibraryImport("libc", EntryPoint = "fork", SetLastError = true)]
    internal static partial int Fork();

    [LibraryImport("libc", EntryPoint = "_exit")]
    internal static partial void Exit(int status);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    internal static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    internal static partial int Advise(nint address, nuint length, int advice);

    internal const int MADV_HUGEPAGE = 14;

    /// <summary>
    /// Copies <paramref name="source"/> into memory fresh from the kernel (2 MiB-aligned, with
    /// MADV_HUGEPAGE, as the channel's inbox asks for a large received array): the ceiling of any
    /// receive into a new array, which pays the first touch of its pages. Returns the seconds taken.
    /// </summary>
    internal static unsafe double CopyIntoFreshMemory(byte[] source)
    {
        nuint length = (nuint)source.Length;
        void* memory = NativeMemory.AlignedAlloc(length, 2 << 20);
        try
        {
            Advise((nint)memory, length, MADV_HUGEPAGE);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            source.AsSpan().CopyTo(new Span<byte>(memory, source.Length));
            return clock.Elapsed.TotalSeconds;
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
    }
}
