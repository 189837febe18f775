using System.Runtime;

namespace PProcess.Runtime;

/// <summary>
/// Checks, before every fork, that the running process is one in which a fork is safe
/// (docs/fork-safety.md rules 1 and 2). Settings fixed at start-up are read once; the GC
/// latency mode, which code can change, is read on every call.
/// </summary>
internal static class ForkGuard
{
    private static readonly Lazy<bool> WriteXorExecuteOn = new(ReadWriteXorExecute);
    private static readonly Lazy<bool> TieredCompilationOn = new(TieredCompilationIsOn);

    /// <summary>Throws <see cref="ForkSafetyException"/> when forking now would be unsafe.</summary>
    internal static void ThrowIfUnsafe()
    {
        if (WriteXorExecuteOn.Value)
        {
            throw new ForkSafetyException(
                "System.Runtime.EnableWriteXorExecute",
                "Refusing to fork: W^X is on in this process (/proc/self/maps has a 'doublemapper' mapping). " +
                "Its executable memory is shared with any child, so the child's JIT would overwrite the parent's code " +
                "(fork-safety rule 1). Fix: reference the PProcess package (its build targets set " +
                "System.Runtime.EnableWriteXorExecute=false in runtimeconfig.json), or add " +
                "<RuntimeHostConfigurationOption Include=\"System.Runtime.EnableWriteXorExecute\" Value=\"false\" /> " +
                "to the application project, and make sure DOTNET_EnableWriteXorExecute is not set to 1 in the environment.");
        }

        if (GCSettings.IsServerGC)
        {
            throw new ForkSafetyException(
                "System.GC.Server",
                "Refusing to fork: server GC is on. Its GC threads do not exist in a child, which would hang or abort " +
                "at its first collection (fork-safety rule 2). Fix: <ServerGarbageCollection>false</ServerGarbageCollection> " +
                "in the application project (set by the PProcess package's build targets) and DOTNET_gcServer unset or 0.");
        }

        var mode = GCSettings.LatencyMode;
        if (mode is GCLatencyMode.Interactive or GCLatencyMode.SustainedLowLatency)
        {
            throw new ForkSafetyException(
                "System.GC.Concurrent",
                $"Refusing to fork: the concurrent (background) GC is on (GCSettings.LatencyMode is {mode}). " +
                "Its background thread does not exist in a child, which would abort at its first collection " +
                "(fork-safety rule 2). Fix: <ConcurrentGarbageCollection>false</ConcurrentGarbageCollection> in the " +
                "application project (set by the PProcess package's build targets) and DOTNET_gcConcurrent unset or 0.");
        }
    }

    /// <summary>
    /// Throws <see cref="ForkSafetyException"/> when the thread pool, a timer or the socket engine
    /// has started in this process but <see cref="ThreadPoolRepair"/> cannot repair them in a child
    /// on this runtime: the child's Task.Run, timers and async I/O would hang.
    /// </summary>
    internal static void ThrowIfPoolCannotBeRepaired()
    {
        if (ThreadPoolRepair.Unavailable is not { } why || !RuntimeThreadsStarted(out string started))
        {
            return;
        }
        throw new ForkSafetyException("runtime version",
            $"Refusing to fork: {started} in this process, and a child's copy of them can only be made to work by " +
            $"PProcess's repair, which is not available on this runtime: {why}. A child would hang at its first Task.Run, " +
            "await or timer. Fix: run on a runtime version PProcess supports (docs/fork-safety.md lists them), or fork " +
            "before the program first uses the thread pool, timers or async I/O.");
    }

    /// <summary>Whether a thread of the pool, its gate, the timers, a registered wait or the socket engine exists.</summary>
    private static bool RuntimeThreadsStarted(out string started)
    {
        started = "";
        if (ThreadPool.ThreadCount > 0)
        {
            started = "the thread pool has started";
            return true;
        }
        foreach (var name in Quiescence.ThreadNames())
        {
            if ((name.StartsWith(".NET T", StringComparison.Ordinal) && !TieringRepair.IsWorker(name)) || name.StartsWith(".NET Socket", StringComparison.Ordinal))
            {
                started = $"the runtime's thread '{name}' has started";
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Tiered compilation's background worker recompiles methods while holding runtime locks; a
    /// child forked at such a moment hangs at its first JIT compilation (rule 8). The runtime reads
    /// the setting from the environment first, then from runtimeconfig.json: so does this check.
    /// </summary>
    private static bool TieredCompilationIsOn()
    {
        foreach (var variable in (string[])["DOTNET_TieredCompilation", "COMPlus_TieredCompilation"])
        {
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value)
            {
                return value.Trim() != "0";
            }
        }
        return AppContext.GetData("System.Runtime.TieredCompilation") is not string configured
            || !configured.Equals("false", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>W^X maps executable memory twice from one shared memory file named "doublemapper".</summary>
    private static bool ReadWriteXorExecute()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                if (line.Contains("doublemapper", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            return false;
        }
        catch (IOException)
        {
            // Without /proc there is nothing to check against; the runtimeconfig setting still applies.
            return false;
        }
    }
}
