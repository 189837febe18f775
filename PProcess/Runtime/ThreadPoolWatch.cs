namespace PProcess.Runtime;

/// <summary>
/// Turns a child's wait on the thread pool into a fast, clear failure (docs/fork-safety.md, rule 4).
/// </summary>
/// <remarks>
/// <para>
/// Measured: after the parent had used the thread pool, a child's <c>Task.Run(() => 42).Wait(2000)</c>
/// timed out with the work item still queued (<see cref="ThreadPool.PendingWorkItemCount"/> 1) and no
/// pool thread in <c>/proc/self/task</c>: the child's copy of the pool counts the parent's workers as
/// existing and waiting, so it never starts one, and nothing ever runs the item. When the parent had
/// never used the pool (<see cref="ThreadPool.ThreadCount"/> 0 at the fork), the child's pool started
/// its own workers and the same call returned 42.
/// </para>
/// <para>
/// So a child whose pool was inherited with threads gets a watcher: a thread that wakes every
/// <see cref="Interval"/> and, when work items are queued beyond those inherited and no pool worker
/// exists in this process for <see cref="StrikesToFail"/> checks in a row, writes the cause to standard
/// error and leaves with <see cref="ExitCodes.ThreadPoolUnavailable"/>, which the parent reports as a
/// <see cref="ChildExitedException"/> naming the job and this rule. A queued item the child never
/// waits for would never run either, so failing then is right too.
/// </para>
/// </remarks>
internal static class ThreadPoolWatch
{
    internal static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    internal const int StrikesToFail = 2;
    private const string WorkerThreadName = ".NET TP Worker";

    private static long inheritedPending;

    /// <summary>True when this child inherited a pool with threads that do not exist here.</summary>
    internal static bool Watching { get; private set; }

    /// <summary>Called by <see cref="ChildRuntime.Enter"/>; starts the watcher only when the pool is broken here.</summary>
    internal static void StartInChild()
    {
        if (ThreadPool.ThreadCount == 0)
        {
            // The parent never started a pool thread (or they all retired): this child's pool starts its own.
            return;
        }
        inheritedPending = ThreadPool.PendingWorkItemCount;
        Watching = true;
        var watcher = new Thread(Watch, 256 * 1024) { IsBackground = true, Name = "PProcess pool watch" };
        watcher.UnsafeStart();
    }

    private static void Watch()
    {
        int strikes = 0;
        while (true)
        {
            Thread.Sleep(Interval);
            if (ThreadPool.PendingWorkItemCount > inheritedPending && !WorkerExists())
            {
                if (++strikes >= StrikesToFail)
                {
                    Fail();
                }
            }
            else
            {
                strikes = 0;
            }
        }
    }

    private static bool WorkerExists()
    {
        try
        {
            foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == WorkerThreadName)
                {
                    return true;
                }
            }
        }
        catch (IOException)
        {
            // A thread that ended while being listed: look again at the next check.
            return true;
        }
        return false;
    }

    private static void Fail()
    {
        try
        {
            Console.Error.WriteLine(
                $"PProcess child {ProcessIdentity.Current}: {Message}");
        }
        catch (Exception)
        {
            // Leave anyway: the exit code tells the parent.
        }
        ChildRuntime.Exit(ExitCodes.ThreadPoolUnavailable);
    }

    /// <summary>What the child prints, and the parent's exception repeats.</summary>
    internal const string Message =
        "work was queued to the thread pool (Task.Run, Parallel, a timer or async I/O), but a forked child has no " +
        "pool threads: they exist only in the parent, which had started them before the fork, so the work would never " +
        "run and a wait for it would hang. Do the work on the child's own thread, or start a Thread for it " +
        "(docs/fork-safety.md, rule 4)";
}
