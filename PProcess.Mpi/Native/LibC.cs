using System.Runtime.InteropServices;

namespace PProcess.Mpi.Native;

/// <summary>
/// setenv(3): .NET's Environment.SetEnvironmentVariable changes only the runtime's copy of the
/// environment, and the MPI library reads the C one (getenv) during MPI_Init.
/// </summary>
internal static partial class LibC
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int SetEnv(string name, string value, int overwrite);
}
