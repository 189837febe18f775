using System.Reflection;
using System.Diagnostics.CodeAnalysis;
using PProcess.Native;

namespace PProcess.Runtime;

/// <summary>
/// What a forked child does before any user code runs, and how it leaves
/// (docs/fork-safety.md rules 5 and 6).
/// </summary>
internal static class ChildRuntime
{
    /// <summary>True in a process created by this library's fork, false in the original process.</summary>
    internal static bool IsChild { get; private set; }

    /// <summary>
    /// Called first thing in the child, on the thread that forked, before anything that could wait
    /// on the runtime: leaves the parent's process group, so that the terminal's Ctrl-C (and any
    /// signal sent to the group) reaches the parent alone, which decides the children's fate (rule
    /// 5); resets the signals that the runtime would forward to the parent (rule 5), and asks the
    /// kernel to kill the child if its parent dies. A background process's first child keeps the
    /// group: it starts a session of its own. Only P/Invokes without a GC transition (see
    /// <see cref="LibC.RawFork"/>).
    /// </summary>
    internal static void EnterFirst(int parentPid, bool dieWithParent)
    {
        if (dieWithParent)
        {
            LibC.SetProcessGroup(0, 0);
        }
        var signals = Signals.ResetInChild;
        for (int i = 0; i < signals.Length; i++)
        {
            LibC.Signal(signals[i], LibC.SIG_DFL);
        }
        var ignored = Signals.IgnoredInChild;
        for (int i = 0; i < ignored.Length; i++)
        {
            LibC.Signal(ignored[i], LibC.SIG_IGN);
        }
        if (dieWithParent)
        {
            LibC.Prctl(LibC.PR_SET_PDEATHSIG, (nuint)Signals.SIGKILL, 0, 0, 0);
            // The parent may have died between fork and prctl: then nobody will send the signal.
            if (LibC.GetParentPid() != parentPid)
            {
                LibC.Exit(ExitCodes.ParentGone);
            }
        }
    }

    /// <summary>
    /// The rest of the child's start, before user code: closes the parent's ends of the other
    /// channels, makes sure the child never runs the parent's exit logic, repairs the thread pool
    /// and timers, starts the exit watch, and tells the parent it is ready. Returns only when the
    /// parent lets it start; a child that cannot start leaves here, and the parent forks again.
    /// </summary>
    internal static void Enter(StartupHandshake handshake, StandardErrorRelay? relay, bool parentHadSocketEngine, int[] keep,
        bool keepHeapShared, ForkPoint.Fault fault = ForkPoint.Fault.None)
    {
        try
        {
            relay?.AttachChild();
            IsChild = true;
            DiagnosticEndpointGuard.DisarmInChild();
            ProcessIdentity.RefreshInChild();
            DescriptorRegistry.CloseAllInChild(keep);
            InstallExitGuards();
            ForgetInheritedSymbolReaders();
            int repair = ThreadPoolRepair.RepairInChild(parentHadSocketEngine);
            if (repair != ThreadPoolRepair.Repaired)
            {
                handshake.ChildRefuses(repair);
            }
            if (!ChildExitWatch.Start())
            {
                // Thread creation failed (EAGAIN at the process limit): the parent raises the shortage.
                handshake.ChildRefuses(StartupHandshake.NoThread);
            }
            TieringRepair.RepairInChild();
            // Without its guard thread (the process limit) a child only copies more of its parent's heap.
            HeapSharing.EnterChild(keepHeapShared);
            Inject(fault);
            handshake.ChildReady();
        }
        catch (Exception e)
        {
            try
            {
                Console.Error.WriteLine($"PProcess child {ProcessIdentity.Current}: its start failed: {e}");
            }
            catch (Exception)
            {
                // Leave anyway: the parent sees a child that ended before it was ready.
            }
            LibC.Exit(ExitCodes.UnhandledException);
        }
    }

    /// <summary>For tests of the fork point: a child that fails to start in one of the ways it can.</summary>
    private static void Inject(ForkPoint.Fault fault)
    {
        switch (fault)
        {
            case ForkPoint.Fault.Sleep:
                Thread.Sleep(Timeout.Infinite);
                break;
            case ForkPoint.Fault.Spin:
                while (fault == ForkPoint.Fault.Spin)
                {
                    Thread.SpinWait(1000);
                }
                break;
            case ForkPoint.Fault.Die:
                LibC.Exit(99);
                break;
        }
    }

    private static readonly FieldInfo? StackTraceSymbolsCache =
        typeof(object).Assembly.GetType("System.Diagnostics.StackFrameHelper")?.GetField("s_stackTraceSymbolsCache", BindingFlags.Static | BindingFlags.NonPublic);

    /// <summary>The parent's PDB readers, kept reachable in the child so that they are never finalized here.</summary>
    private static object? inheritedSymbolReaders;

    /// <summary>
    /// The runtime reads PDBs for stack traces through memory-mapped views, and .NET marks every
    /// MemoryMappedFile view MADV_DONTFORK: in a child, the parent's views are not mapped, and a
    /// stack trace that used the parent's cached reader crashed the child with SIGSEGV (measured;
    /// docs/fork-safety.md, rule 12). The child drops the cache and opens the PDBs itself. The old
    /// readers stay referenced: finalizing them would unmap addresses the child may have reused.
    /// </summary>
    private static void ForgetInheritedSymbolReaders()
    {
        if (StackTraceSymbolsCache?.GetValue(null) is { } cache)
        {
            inheritedSymbolReaders = cache;
            StackTraceSymbolsCache.SetValue(null, null);
        }
    }

    /// <summary>Flushes the console writers the child has (without creating any) and ends it with <c>_exit</c>.</summary>
    [DoesNotReturn]
    internal static void Exit(int code)
    {
        try
        {
            (ConsoleOut?.GetValue(null) as TextWriter)?.Flush();
            (ConsoleError?.GetValue(null) as TextWriter)?.Flush();
        }
        catch (Exception)
        {
            // Output that cannot be flushed must not stop the child from leaving.
        }
        LibC.Exit(code);
    }

    // Console creates its writers on first use; creating them in a child only to flush them
    // would cost each child the writers' creation for nothing. These fields say whether they exist.
    private static readonly FieldInfo? ConsoleOut = typeof(Console).GetField("s_out", BindingFlags.Static | BindingFlags.NonPublic);
    private static readonly FieldInfo? ConsoleError = typeof(Console).GetField("s_error", BindingFlags.Static | BindingFlags.NonPublic);
    private static readonly FieldInfo? ProcessExitHandlers = typeof(AppContext).GetField("ProcessExit", BindingFlags.Static | BindingFlags.NonPublic);

    /// <summary>
    /// A child made by <c>Create</c> returns into user code. If that code returns from Main or
    /// calls Environment.Exit, the runtime would run the parent's ProcessExit handlers and its
    /// shutdown (which deletes the parent's diagnostic socket). The handlers inherited from the
    /// parent are dropped and replaced by one that leaves with _exit; an unhandled exception also
    /// leaves with _exit.
    /// </summary>
    private static void InstallExitGuards()
    {
        if (ProcessExitHandlers is not null && ProcessExitHandlers.FieldType == typeof(EventHandler))
        {
            // Setting the field replaces the parent's handlers without combining delegates,
            // which would compile a stub in every child.
            ProcessExitHandlers.SetValue(null, ExitOnProcessExit);
        }
        else
        {
            AppDomain.CurrentDomain.ProcessExit += ExitOnProcessExit;
        }
    }

    private static readonly EventHandler ExitOnProcessExit = OnProcessExit;

    /// <summary>
    /// Registered once in the parent, before its first fork, so that children inherit the handler
    /// instead of each registering it: an exception that escapes user code in a child leaves with _exit.
    /// </summary>
    internal static void InstallInParent() => AppDomain.CurrentDomain.UnhandledException += OnUnhandledException;

    private static void OnProcessExit(object? sender, EventArgs e) => Exit(Environment.ExitCode);

    private static void OnUnhandledException(object sender, UnhandledExceptionEventArgs e)
    {
        if (!IsChild)
        {
            return;
        }
        try
        {
            Console.Error.WriteLine($"PProcess child {ProcessIdentity.Current}: unhandled exception: {e.ExceptionObject}");
        }
        catch (Exception)
        {
            // Nothing more can be done; leave.
        }
        Exit(ExitCodes.UnhandledException);
    }
}

/// <summary>Exit codes a child uses for conditions of the library's own.</summary>
internal static class ExitCodes
{
    /// <summary>The job threw; the exception was sent to the parent.</summary>
    internal const int JobThrew = 1;
    /// <summary>An exception escaped user code in a child made by Create.</summary>
    internal const int UnhandledException = 70;
    /// <summary>The parent died before the child could register for its death.</summary>
    internal const int ParentGone = 71;
    /// <summary>The child found the parent's runtime caught in a state it cannot start from; the parent forks again.</summary>
    internal const int UnsafeForkPoint = 73;
}
