using System.Reflection;
using System.Runtime.InteropServices;

namespace PProcess.Mpi.Native;

/// <summary>
/// Finds the MPI library at the first MPI call, through a DllImport resolver: the file named by
/// <c>PPROCESS_MPI_LIBRARY</c> if set, else the MPICH ABI's usual names. Nothing is loaded before
/// a program asks for ranks, so a machine without MPI never needs one. Open MPI's library is
/// refused with a clear error: its handles are pointers, not the MPICH ABI's integers.
/// </summary>
internal static class MpiLibrary
{
    /// <summary>The environment variable that names the library file (a path or a soname).</summary>
    internal const string Variable = "PPROCESS_MPI_LIBRARY";

    /// <summary>
    /// libmpi.so.12: the MPICH ABI's soname (MPICH built from source, Intel MPI, MVAPICH);
    /// libmpich.so.12: Debian's and Ubuntu's MPICH; libmpi_cray.so.12: Cray MPICH.
    /// </summary>
    internal static readonly string[] Candidates = ["libmpi.so.12", "libmpich.so.12", "libmpi_cray.so.12"];

    private static readonly object Gate = new();
    private static bool registered;
    private static IntPtr handle;

    /// <summary>Registers the resolver (once); the library itself is loaded at the first call.</summary>
    internal static void Register()
    {
        lock (Gate)
        {
            if (!registered)
            {
                NativeLibrary.SetDllImportResolver(typeof(MpiLibrary).Assembly, Resolve);
                registered = true;
            }
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Mpich.Library)
        {
            return IntPtr.Zero;
        }
        lock (Gate)
        {
            if (handle == IntPtr.Zero)
            {
                handle = Load();
            }
            return handle;
        }
    }

    private static IntPtr Load()
    {
        var chosen = Environment.GetEnvironmentVariable(Variable);
        var names = string.IsNullOrEmpty(chosen) ? Candidates : [chosen];
        foreach (var candidate in names)
        {
            if (NativeLibrary.TryLoad(candidate, out var loaded))
            {
                if (NativeLibrary.TryGetExport(loaded, "ompi_mpi_comm_world", out _))
                {
                    throw new MpiException(
                        $"{candidate} is Open MPI, whose ABI PProcess.Mpi does not bind (its handles are pointers; PProcess.Mpi binds the " +
                        "MPICH ABI shared by MPICH, Intel MPI, MVAPICH and Cray MPICH). Run under an MPICH-ABI MPI (docs/scaling.md).");
                }
                return loaded;
            }
        }
        throw new MpiException(
            $"No MPI library could be loaded (tried {string.Join(", ", names)}). Install MPICH (apt-get install mpich) or name the " +
            $"library file in {Variable} (docs/scaling.md).");
    }
}
