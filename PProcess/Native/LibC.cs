using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>
/// The library's one native layer, after dotnet/runtime's <c>Interop.Sys</c>: one small file per
/// group of calls, each returning -1 (or null) on failure with errno in <see cref="LastError"/>.
/// Nothing outside PProcess/Native calls libc or Mono.Posix. Most calls go through Tmds.LibC,
/// waitpid through Mono.Posix; the few declared here by hand are those neither binds well
/// (docs/dependencies.md says which and why).
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    /// <summary>The errno of the last failed call of this thread.</summary>
    internal static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>An exception for a failed call that names the call, errno's name and its text.</summary>
    internal static IOException Error(string call, int errno) =>
        new($"{call} failed: {Errno.Name(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})", errno);

    /// <summary>
    /// The library's one EINTR loop: calls <paramref name="call"/> again while a signal interrupts it
    /// (poll, which must shorten its timeout, has its own in <see cref="Poll"/>). One shape for every
    /// restartable call, so that the loop is not generic and is compiled once, in the parent.
    /// </summary>
    private static long Restart(delegate*<int, void*, nuint, int, long> call, int fd, void* buffer, nuint length, int flags)
    {
        long result;
        while ((result = call(fd, buffer, length, flags)) < 0 && LastError == Errno.EINTR)
        {
        }
        return result;
    }
}
