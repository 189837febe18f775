using PProcess.Mpi.Native;

namespace PProcess.Mpi;

/// <summary>
/// This process's place among the ranks of an MPI job. <see cref="IsLaunched"/> reads only the
/// environment a launcher sets (mpiexec, srun, an MPI operator); MPI itself is loaded and
/// initialised at the first use of <see cref="Rank"/>, <see cref="Size"/> or a map across ranks,
/// and finalised when the process exits. Outside a launcher nothing is loaded: the process is
/// rank 0 of 1. A forked child never calls MPI: the properties refuse there.
/// </summary>
public static class MpiWorld
{
    /// <summary>
    /// The variables by which launchers tell a process its rank: PMI_RANK and PMI_SIZE (MPICH's and
    /// Intel MPI's Hydra mpiexec, srun --mpi=pmi2), PMIX_RANK (srun --mpi=pmix), OMPI_COMM_WORLD_SIZE
    /// (Open MPI's mpirun, which PProcess.Mpi then refuses with a clear error).
    /// </summary>
    private static readonly string[] LauncherVariables = ["PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE"];

    private static readonly object Gate = new();
    private static bool initialised;
    private static int rank;
    private static int size = 1;
    private static int comm;

    /// <summary>True when a launcher started this process as one of the ranks of an MPI job. Loads nothing.</summary>
    public static bool IsLaunched => LauncherVariables.Any(v => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(v)));

    /// <summary>This process's rank in MPI_COMM_WORLD (0 outside a launcher). Initialises MPI at the first use.</summary>
    public static int Rank
    {
        get
        {
            Initialise();
            return rank;
        }
    }

    /// <summary>The number of ranks (1 outside a launcher). Initialises MPI at the first use.</summary>
    public static int Size
    {
        get
        {
            Initialise();
            return size;
        }
    }

    /// <summary>True when there are several ranks to share work with (initialises MPI under a launcher).</summary>
    internal static bool IsDistributed => Size > 1;

    /// <summary>PProcess.Mpi's own communicator, a duplicate of MPI_COMM_WORLD, so that its messages never meet the program's.</summary>
    internal static int Comm
    {
        get
        {
            Initialise();
            return comm;
        }
    }

    /// <summary>
    /// Ends the whole job through MPI_Abort after printing why on this rank's standard error: for a
    /// failure that would otherwise leave the other ranks waiting for ever.
    /// </summary>
    internal static void Abort(string why, int code = 1)
    {
        Console.Out.Flush();
        Console.Error.WriteLine($"PProcess.Mpi: rank {rank} of {size} ({Environment.MachineName}) ends the job: {why}");
        Console.Error.Flush();
        WaitUntilForwarded();
        Mpich.Abort(Mpich.CommWorld, code);
        Environment.FailFast($"MPI_Abort returned: {why}");
    }

    /// <summary>
    /// Waits (at most 2 s) until the launcher has read what this rank wrote to its standard error
    /// and output pipes. Hydra's proxy, told of the abort, kills the ranks and stops forwarding: in
    /// 2 suite runs of 4, the cause written just before MPI_Abort arrived cut short or not at all.
    /// </summary>
    private static void WaitUntilForwarded()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        foreach (int fd in (int[])[2, 1])
        {
            while (LibC.IoctlInt(fd, LibC.FionRead, out int unread) == 0 && unread > 0 && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(1);
            }
        }
    }

    private static void Initialise()
    {
        if (Fork.IsChild)
        {
            throw new InvalidOperationException(
                "MPI is not usable in a forked child: its connections belong to the rank that forked it (docs/scaling.md). " +
                "Read the rank in the parent, before the map, and let the closure capture it.");
        }
        lock (Gate)
        {
            if (initialised || !IsLaunched)
            {
                return;
            }
            MpiLibrary.Register();
            Start();
            initialised = true;
        }
    }

    private static unsafe void Start()
    {
        // UCX (MPICH's default transport on Debian) installs its own SIGSEGV handler, which turns
        // every NullReferenceException of the runtime into a crash with a UCX backtrace
        // (docs/scaling.md); an empty list keeps the runtime's handler. UCX reads it when its library
        // is loaded, so before the first MPI call. A value the user set is kept.
        LibC.SetEnv("UCX_ERROR_SIGNALS", "", overwrite: 0);
        Mpich.Check(Mpich.Initialized(out int already), "MPI_Initialized");
        if (already == 0)
        {
            Mpich.Check(Mpich.InitThread(null, null, Mpich.ThreadSerialized, out _), "MPI_Init_thread");
            AppDomain.CurrentDomain.ProcessExit += (_, _) => Finish();
        }
        Mpich.Check(Mpich.CommRank(Mpich.CommWorld, out rank), "MPI_Comm_rank");
        Mpich.Check(Mpich.CommSize(Mpich.CommWorld, out size), "MPI_Comm_size");
        Mpich.Check(Mpich.CommDup(Mpich.CommWorld, out comm), "MPI_Comm_dup");
    }

    /// <summary>
    /// At the rank's exit (not in a child: the library drops inherited exit handlers there):
    /// MPI_Finalize after success; after a failure (a non-zero exit code), MPI_Abort, because
    /// MPI_Finalize waits for the other ranks, and one waiting in a map for this rank would never come.
    /// </summary>
    private static void Finish()
    {
        if (Fork.IsChild || Mpich.Finalized(out int done) != Mpich.Success || done != 0)
        {
            return;
        }
        if (Environment.ExitCode != 0)
        {
            Abort($"it exits with code {Environment.ExitCode}, and the other ranks may be waiting for it.", Environment.ExitCode);
        }
        Mpich.Finalize();
    }
}
