using System.Runtime.InteropServices;

namespace PProcess.Mpi.Native;

/// <summary>
/// setenv(3): .NET's Environment.SetEnvironmentVariable changes only the runtime's copy of the
/// environment, and the MPI library reads the C one (getenv) when it loads. ioctl(FIONREAD): how
/// many bytes written to a pipe its reader has not taken yet (Mono.Posix binds no ioctl).
/// </summary>
internal static partial class LibC
{
    internal const ulong FionRead = 0x541B;

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int IoctlInt(int fd, ulong request, out int value);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int SetEnv(string name, string value, int overwrite);
}
