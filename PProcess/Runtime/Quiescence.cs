using System.Diagnostics;
using System.Text;
using PProcess.Processes;

namespace PProcess.Runtime;

/// <summary>
/// The moment of a fork: waits until no other thread of the process runs, and afterwards tells
/// whether one ran while the fork was made. A thread that is running (or runnable) at the fork may
/// hold a runtime or libc lock, which the child then holds for ever (docs/fork-safety.md). A thread
/// sleeping in the kernel (state S) is in a wait, not inside the JIT or malloc. But the fork syscall
/// takes milliseconds in a large process, and a sleeping thread can wake during it: the kernel's
/// count of how often each thread was scheduled (/proc/self/task/TID/schedstat, third field)
/// shows that it did, and the fork is then made again (<see cref="ForkPoint"/>).
/// </summary>
internal static class Quiescence
{
    /// <summary>How long to wait for other threads to settle before refusing to fork.</summary>
    internal static TimeSpan Patience => TestHooks.QuiescencePatience;

    /// <summary>
    /// A shorter patience for the forks of one thread: a worker pool's thread, which must not stop
    /// dispatching for 5 s while it tries to fork a replacement (Pools/WorkerPoolOfTState.cs).
    /// </summary>
    [ThreadStatic]
    internal static TimeSpan? ThreadPatience;

    /// <summary>The patience of the calling thread's forks.</summary>
    internal static TimeSpan CurrentPatience => ThreadPatience ?? Patience;

    /// <summary>How much longer an ordinary fork waits when the only thread still running is the tiering worker.</summary>
    private static readonly TimeSpan TieringPatience = TimeSpan.FromMinutes(1);

    /// <summary>Each other thread's id and how many times it had been scheduled, when all slept.</summary>
    internal sealed class Snapshot(int[] threads, long[] runs, string[] names)
    {
        internal int[] Threads { get; } = threads;
        internal long[] Runs { get; } = runs;
        internal string[] Names { get; } = names;
        /// <summary>The process's thread count when the snapshot was taken (this one included).</summary>
        internal int Count { get; init; }
    }

    /// <summary>Returns once every other thread sleeps; throws <see cref="ForkSafetyException"/> after <see cref="Patience"/>.</summary>
    internal static Snapshot WaitForOtherThreads()
    {
        int self = Native.LibC.GetTid();
        long deadline = -1, firstBusy = 0;
        int spins = 0;
        while (true)
        {
            var snapshot = Take(self, out string? busy, out bool onlyTiering);
            if (busy is null)
            {
                return snapshot;
            }
            if (deadline < 0)
            {
                firstBusy = Stopwatch.GetTimestamp();
                deadline = firstBusy + (long)((ThreadPatience ?? Patience).TotalSeconds * Stopwatch.Frequency);
            }
            // The tiering worker alone: its work is the methods queued for promotion, a finite list
            // while every other thread sleeps, so an ordinary fork waits it out (up to a minute). On a
            // loaded machine it compiled for more than 5 s at a program's start (a DocsTests program
            // at load 13 was refused: "thread N '.NET Tiered Com' in state R").
            bool waitForTiering = onlyTiering && ThreadPatience is null
                && Stopwatch.GetTimestamp() < deadline + (long)(TieringPatience.TotalSeconds * Stopwatch.Frequency);
            if (Stopwatch.GetTimestamp() > deadline && !waitForTiering)
            {
                throw new ForkSafetyException("threads",
                    $"Refusing to fork: other threads of this process kept running for {Stopwatch.GetElapsedTime(firstBusy).TotalSeconds:0.###} s ({busy}). " +
                    "A fork while another thread runs managed code or holds a runtime lock leaves the child aborting or hanging " +
                    "(fork-safety rules 3 and 8). Fork from a quiescent process: start workers before other threads, or stop them first.");
            }
            // Yield at first (a runtime thread's short work is usually done by then), then sleep.
            if (++spins < 50)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>
    /// After the fork, in the parent: a description of another thread that was scheduled since
    /// <paramref name="before"/> was taken (or that appeared), or null when none ran.
    /// </summary>
    internal static string? RanSince(Snapshot before)
    {
        if (!SchedStatAvailable)
        {
            return null;
        }
        // Only the threads of the snapshot, and the process's thread count: a thread started since
        // (by another thread, which then ran, or by this one) changes the count. No directory is
        // listed, so at the descriptor limit this needs one descriptor.
        Span<byte> buffer = stackalloc byte[ProcStat.BufferSize];
        int count = ThreadCount(buffer);
        if (count >= 0 && count != before.Count)
        {
            return $"the process has {count} threads, {before.Count} before the fork";
        }
        for (int i = 0; i < before.Threads.Length; i++)
        {
            long runs = ReadRuns($"/proc/self/task/{before.Threads[i]}", buffer);
            if (runs >= 0 && runs != before.Runs[i])
            {
                return $"thread {before.Threads[i]} '{before.Names[i]}' ran";
            }
        }
        return null;
    }

    /// <summary>True when a thread of the snapshot has the given name.</summary>
    internal static bool Has(Snapshot snapshot, string name) => Array.IndexOf(snapshot.Names, name) >= 0;

    /// <summary>The names of this process's threads (for the runtime threads a fork must know about).</summary>
    internal static IEnumerable<string> ThreadNames()
    {
        Span<byte> buffer = stackalloc byte[ProcStat.BufferSize];
        var names = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            ReadStat(dir, buffer, out string name);
            names.Add(name);
        }
        return names;
    }

    private static readonly bool SchedStatAvailable = File.Exists("/proc/self/schedstat");

    private static Snapshot Take(int self, out string? busy, out bool onlyTiering)
    {
        onlyTiering = true;
        StringBuilder? running = null;
        var threads = new List<int>();
        var runs = new List<long>();
        var names = new List<string>();
        Span<byte> buffer = stackalloc byte[ProcStat.BufferSize];
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (!int.TryParse(Path.GetFileName(dir.AsSpan()), out int tid) || tid == self)
            {
                continue;
            }
            // The count first: a thread that wakes between the two reads then shows as having run.
            long count = SchedStatAvailable ? ReadRuns(dir, buffer) : 0;
            char state = ReadStat(dir, buffer, out string name);
            if (state is 'R' or 'D')
            {
                onlyTiering &= TieringRepair.IsWorker(name);
                running ??= new StringBuilder();
                if (running.Length > 0)
                {
                    running.Append(", ");
                }
                running.Append($"thread {tid} '{name}' in state {state}");
            }
            if (state != '?')
            {
                threads.Add(tid);
                runs.Add(count);
                names.Add(name);
            }
        }
        busy = running?.ToString();
        // Counted after the listing: a thread started meanwhile shows as a difference at the fork.
        return new Snapshot([.. threads], [.. runs], [.. names]) { Count = ThreadCount(buffer) };
    }

    /// <summary>The process's thread count (/proc/self/stat); -1 if it cannot be read.</summary>
    private static int ThreadCount(Span<byte> buffer) => ProcStat.Read("/proc/self/stat", buffer)?.Threads ?? -1;

    /// <summary>The state letter and name of a thread (/proc/self/task/TID/stat); '?' when the thread ended.</summary>
    private static char ReadStat(string dir, Span<byte> buffer, out string name)
    {
        var stat = ProcStat.Read(dir + "/stat", buffer);
        name = stat?.Name ?? "?";
        return stat?.State ?? '?';
    }

    /// <summary>The third field of /proc/self/task/TID/schedstat: how many times the thread was scheduled on a CPU; -1 when it ended.</summary>
    private static long ReadRuns(string dir, Span<byte> buffer)
    {
        int n = ProcStat.ReadFile(dir + "/schedstat", buffer);
        if (n <= 0)
        {
            return -1;
        }
        var text = buffer[..n].TrimEnd((byte)'\n');
        int space = text.LastIndexOf((byte)' ');
        return System.Buffers.Text.Utf8Parser.TryParse(text[(space + 1)..], out long runs, out _) ? runs : -1;
    }
}
