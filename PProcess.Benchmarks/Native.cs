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
}
