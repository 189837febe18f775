using System.Reflection;
using Mono.Unix.Native;
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
    /// Called first thing in the child, on the thread that forked. Resets the signals that the
    /// runtime would forward to the parent, asks the kernel to kill the child if its parent dies,
    /// closes the parent's ends of the other channels, and makes sure the child never runs the
    /// parent's exit logic.
    /// </summary>
    internal static void Enter(int parentPid, bool dieWithParent)
    {
        foreach (var signal in Signals.ResetInChild)
        {
            Stdlib.SetSignalAction(signal, SignalAction.Default);
        }

        IsChild = true;
        ProcessIdentity.RefreshInChild();

        if (dieWithParent)
        {
            LibC.Prctl(LibC.PR_SET_PDEATHSIG, (nuint)(int)NativeConvert.FromSignum(Signum.SIGKILL), 0, 0, 0);
            // The parent may have died between fork and prctl: then nobody will send the signal.
            if (Syscall.getppid() != parentPid)
            {
                LibC.Exit(ExitCodes.ParentGone);
            }
        }

        DescriptorRegistry.CloseAllInChild();
        InstallExitGuards();
    }

    /// <summary>Flushes the child's own output and ends it with <c>_exit</c>.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal static void Exit(int code)
    {
        try
        {
            Console.Out.Flush();
            Console.Error.Flush();
        }
        catch (Exception)
        {
            // Output that cannot be flushed must not stop the child from leaving.
        }
        LibC.Exit(code);
    }

    /// <summary>
    /// A child made by <c>Create</c> returns into user code. If that code returns from Main or
    /// calls Environment.Exit, the runtime would run the parent's ProcessExit handlers and its
    /// shutdown (which deletes the parent's diagnostic socket). The handlers inherited from the
    /// parent are dropped and replaced by one that leaves with _exit; an unhandled exception also
    /// leaves with _exit.
    /// </summary>
    private static void InstallExitGuards()
    {
        var field = typeof(AppContext).GetField("ProcessExit", BindingFlags.Static | BindingFlags.NonPublic);
        if (field is not null && field.FieldType == typeof(EventHandler))
        {
            field.SetValue(null, null);
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Exit(Environment.ExitCode);
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            try
            {
                Console.Error.WriteLine($"PProcess child {Environment.ProcessId}: unhandled exception: {e.ExceptionObject}");
            }
            catch (Exception)
            {
                // Nothing more can be done; leave.
            }
            Exit(ExitCodes.UnhandledException);
        };
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
}
