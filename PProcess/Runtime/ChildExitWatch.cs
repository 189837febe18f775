using System.Runtime.InteropServices;
using PProcess.Native;

namespace PProcess.Runtime;

/// <summary>
/// Ends a child that called <see cref="Environment.Exit(int)"/> or returned from Main. The runtime
/// would run its shutdown, which waits for the finalizer thread to run the ProcessExit handlers;
/// that thread does not exist in a child, so the child would wait for ever (measured:
/// docs/fork-safety.md, rule 6). <c>Environment.Exit</c> and a return from an <c>int</c> Main
/// first record the exit code (the "latched" code that <see cref="Environment.ExitCode"/> reads),
/// so a child starts with a code no program uses, and a thread of its own watches for it to
/// change, then leaves with <c>_exit</c> and that code. A return from a <c>void</c> or
/// <c>async Task</c> Main (top-level statements without a value) records no code; the runtime then
/// makes the main thread a background thread before its shutdown, so the watch also ends the child
/// (with code 0, or the code the program set) when the thread that forked it, a foreground thread
/// at the fork, has become a background one.
/// </summary>
/// <remarks>
/// The same thread stands in for the parent's signal-handling thread, which does not exist in a
/// child, where System.Diagnostics.Process needs it: at each look, if the child has started
/// processes, it has the Process class look for those that exited (its own SIGCHLD handling), so
/// that <c>Process.WaitForExit</c> returns in a child too.
/// A thread that runs while its process forks may leave the child a runtime in an unusable state
/// (docs/fork-safety.md, rule 3), so when this child forks in turn the watch parks first, in a
/// wait, and resumes after the fork (<see cref="Park"/>).
/// </remarks>
internal static unsafe class ChildExitWatch
{
    /// <summary>The exit code a child starts with: one that no program sets.</summary>
    internal const int Unset = unchecked((int)0x8000_7050);

    /// <summary>How often the watch looks: the delay between an Environment.Exit and the child's end.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The watch's entry point for a thread made with pthread_create: a new managed thread's
    /// Start waits until the new thread has run, which delays each child's start by a scheduling
    /// round on a loaded machine; a native thread that enters managed code here does not.
    /// Taken in the parent (the class constructor runs there), so its stub is made once.
    /// </summary>
    private static readonly nint EntryPoint = (nint)(delegate* unmanaged<nint, nint>)&Entry;

    // A new object in each child: the inherited one may list the parent's watch, a thread that
    // does not exist here, among its waiters.
    private static object sync = new();
    private static bool running, forkPending, parked;
    /// <summary>The thread that forked this child, if it was a foreground thread (Main's): when it turns background, Main has returned.</summary>
    private static Thread? creator;

    /// <summary>In the child, before user code. False when no thread could be made (EAGAIN at the process limit).</summary>
    internal static bool Start()
    {
        sync = new object();
        forkPending = parked = false;
        creator = Thread.CurrentThread.IsBackground ? null : Thread.CurrentThread;
        Environment.ExitCode = Unset;
        if (LibC.StartThread(EntryPoint, 256 * 1024, ThreadName) != 0)
        {
            return false;
        }
        running = true;
        return true;
    }

    private const string ThreadName = "PProcess exit";

    [UnmanagedCallersOnly]
    private static nint Entry(nint unused)
    {
        Watch();
        return 0;
    }

    /// <summary>
    /// Before this process forks: returns once the watch is parked in a wait (at once when there is
    /// no watch). <see cref="Resume"/> lets it go on.
    /// </summary>
    internal static void Park() => SetForkPending(true);

    /// <summary>After a fork: the watch goes on.</summary>
    internal static void Resume() => SetForkPending(false);

    private static void SetForkPending(bool pending)
    {
        if (!running)
        {
            return;
        }
        lock (sync)
        {
            forkPending = pending;
            Monitor.PulseAll(sync);
            while (pending && !parked)
            {
                Monitor.Wait(sync);
            }
        }
    }

    private static void Watch()
    {
        var mine = sync;
        lock (mine)
        {
            while (true)
            {
                while (forkPending)
                {
                    parked = true;
                    Monitor.PulseAll(mine);
                    Monitor.Wait(mine);
                }
                parked = false;
                Monitor.Wait(mine, Interval);
                int code = Environment.ExitCode;
                if (!forkPending && (code != Unset || creator is { IsBackground: true }))
                {
                    ChildRuntime.Exit(code == Unset ? 0 : code);
                }
                ProcessExits.Check();
            }
        }
    }

    /// <summary>In the parent, once before its first fork (<see cref="ChildPath"/>).</summary>
    internal static void PrepareInParent() => ProcessExits.PrepareInParent();

    /// <summary>System.Diagnostics.Process's check for exited children, which its SIGCHLD handler runs in a parent.</summary>
    private static class ProcessExits
    {
        private static Action<bool, bool>? checkChildren;
        private static System.Reflection.FieldInfo? children;

        /// <summary>
        /// In the parent, once before its first fork: finds the check when System.Diagnostics.Process
        /// is (or gets) loaded, so that each child inherits it found instead of scanning the loaded
        /// assemblies and subscribing to their loading itself.
        /// </summary>
        internal static void PrepareInParent()
        {
            AppDomain.CurrentDomain.AssemblyLoad += (_, e) => Resolve(e.LoadedAssembly);
            foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
            {
                Resolve(assembly);
            }
        }

        internal static void Check()
        {
            if (checkChildren is not null && children?.GetValue(null) is System.Collections.ICollection { Count: > 0 })
            {
                checkChildren(false, false);
            }
        }

        private static void Resolve(System.Reflection.Assembly assembly)
        {
            if (checkChildren is not null || assembly.GetName().Name != "System.Diagnostics.Process")
            {
                return;
            }
            const System.Reflection.BindingFlags Static = System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic;
            var type = assembly.GetType("System.Diagnostics.ProcessWaitState");
            children = type?.GetField("s_childProcessWaitStates", Static);
            var method = type?.GetMethod("CheckChildren", Static, [typeof(bool), typeof(bool)]);
            if (method is not null && children is not null)
            {
                checkChildren = method.CreateDelegate<Action<bool, bool>>();
            }
        }
    }
}
