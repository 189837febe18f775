using System.Runtime.InteropServices;

namespace PProcess.Mpi.Native;

/// <summary>
/// The few MPI calls PMap across ranks needs, bound to the MPICH ABI (libmpi.so.12): handles are
/// 32-bit integers with fixed values, and MPI_Status is five ints. MPICH, Intel MPI, MVAPICH and
/// Cray MPICH share it (the MPICH ABI compatibility initiative); Open MPI does not (its handles
/// are pointers), and <see cref="MpiLibrary"/> refuses it. The library file is found at run time
/// by <see cref="MpiLibrary"/>, so nothing here is loaded on a machine without MPI.
/// </summary>
internal static unsafe partial class Mpich
{
    internal const string Library = "mpi";

    internal const int Success = 0;
    internal const int CommWorld = 0x44000000;
    internal const int Byte = 0x4c00010d;
    internal const int AnySource = -2;
    internal const int AnyTag = -1;
    internal const int RequestNull = 0x2c000000;
    internal const int ThreadSerialized = 2;
    internal const int MaxErrorString = 512;

    /// <summary>MPI_STATUS_IGNORE: (MPI_Status*)1 in the MPICH ABI (null is an error).</summary>
    internal static readonly Status* StatusIgnore = (Status*)1;

    /// <summary>MPI_Status in the MPICH ABI.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Status
    {
        internal int CountLow;
        internal int CountHighAndCancelled;
        internal int Source;
        internal int Tag;
        internal int Error;
    }

    [LibraryImport(Library, EntryPoint = "MPI_Initialized")]
    internal static partial int Initialized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Finalized")]
    internal static partial int Finalized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Init_thread")]
    internal static partial int InitThread(int* argc, byte*** argv, int required, out int provided);

    [LibraryImport(Library, EntryPoint = "MPI_Finalize")]
    internal static partial int Finalize();

    [LibraryImport(Library, EntryPoint = "MPI_Abort")]
    internal static partial int Abort(int comm, int errorCode);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")]
    internal static partial int CommRank(int comm, out int rank);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")]
    internal static partial int CommSize(int comm, out int size);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_dup")]
    internal static partial int CommDup(int comm, out int copy);

    [LibraryImport(Library, EntryPoint = "MPI_Send")]
    internal static partial int Send(void* buffer, int count, int datatype, int destination, int tag, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Isend")]
    internal static partial int Isend(void* buffer, int count, int datatype, int destination, int tag, int comm, out int request);

    [LibraryImport(Library, EntryPoint = "MPI_Recv")]
    internal static partial int Recv(void* buffer, int count, int datatype, int source, int tag, int comm, Status* status);

    [LibraryImport(Library, EntryPoint = "MPI_Irecv")]
    internal static partial int Irecv(void* buffer, int count, int datatype, int source, int tag, int comm, out int request);

    [LibraryImport(Library, EntryPoint = "MPI_Test")]
    internal static partial int Test(ref int request, out int flag, Status* status);

    [LibraryImport(Library, EntryPoint = "MPI_Iprobe")]
    internal static partial int Iprobe(int source, int tag, int comm, out int flag, Status* status);

    [LibraryImport(Library, EntryPoint = "MPI_Get_count")]
    internal static partial int GetCount(Status* status, int datatype, out int count);

    [LibraryImport(Library, EntryPoint = "MPI_Ibcast")]
    internal static partial int Ibcast(void* buffer, int count, int datatype, int root, int comm, out int request);

    [LibraryImport(Library, EntryPoint = "MPI_Error_string")]
    internal static partial int ErrorString(int code, byte* text, out int length);

    /// <summary>Throws <see cref="MpiException"/> for an MPI call that did not return MPI_SUCCESS.</summary>
    internal static void Check(int code, string call)
    {
        if (code != Success)
        {
            throw new MpiException($"{call} failed: {Describe(code)} (error {code}).");
        }
    }

    private static string Describe(int code)
    {
        var text = stackalloc byte[MaxErrorString];
        return ErrorString(code, text, out int length) == Success ? new string((sbyte*)text, 0, length) : "no description";
    }
}
