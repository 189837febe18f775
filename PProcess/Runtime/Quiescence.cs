using System.Diagnostics;
using System.Text;

namespace PProcess.Runtime;

/// <summary>
/// Waits, before a fork, until no other thread of the process is running. A thread that holds a
/// runtime lock at the moment of the fork holds it for ever in the child, which then hangs at its
/// first JIT compilation. Measured: the tiered-compilation background worker did this to the
/// ~15th fork of a loop in 5 runs out of 5 (docs/fork-safety.md, rule 8). A thread that is
/// sleeping in the kernel (state S or D) is in a wait, not inside the JIT; one that is running
/// (state R) may be anywhere.
/// </summary>
internal static class Quiescence
{
    /// <summary>How long to wait for other threads to settle before refusing to fork.</summary>
    internal static TimeSpan Patience { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A shorter patience for the forks of one thread: a worker pool's thread, which must not stop
    /// dispatching for 5 s while it tries to fork a replacement (Pools/WorkerPoolOfTState.cs).
    /// </summary>
    [ThreadStatic]
    internal static TimeSpan? ThreadPatience;

    /// <summary>Returns once every other thread sleeps; throws <see cref="ForkSafetyException"/> after <see cref="Patience"/>.</summary>
    internal static void WaitForOtherThreads()
    {
        int self = Native.LibC.GetTid();
        long deadline = -1;
        int spins = 0;
        while (true)
        {
            var busy = RunningThreads(self);
            if (busy is null)
            {
                return;
            }
            if (deadline < 0)
            {
                deadline = Stopwatch.GetTimestamp() + (long)((ThreadPatience ?? Patience).TotalSeconds * Stopwatch.Frequency);
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new ForkSafetyException("threads",
                    $"Refusing to fork: other threads of this process kept running for {(ThreadPatience ?? Patience).TotalSeconds:0.###} s ({busy}). " +
                    "A fork while another thread runs managed code or holds a runtime lock leaves the child aborting or hanging " +
                    "(fork-safety rules 3 and 8). Fork from a quiescent process: start workers before other threads, or stop them first.");
            }
            // Yield at first (a runtime thread usually finishes in microseconds), then sleep.
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

    /// <summary>A description of the other threads in state R, or null when there are none.</summary>
    private static string? RunningThreads(int self)
    {
        StringBuilder? busy = null;
        Span<byte> buffer = stackalloc byte[512];
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (!int.TryParse(name, out int tid) || tid == self)
            {
                continue;
            }
            char state = ReadState(dir, buffer);
            if (state == 'R')
            {
                busy ??= new StringBuilder();
                if (busy.Length > 0)
                {
                    busy.Append(", ");
                }
                busy.Append($"thread {tid} '{ReadComm(dir)}'");
            }
        }
        return busy?.ToString();
    }

    /// <summary>The state letter from /proc/self/task/TID/stat: the field after the closing parenthesis of the name.</summary>
    private static char ReadState(string dir, Span<byte> buffer)
    {
        try
        {
            using var stat = File.OpenHandle(dir + "/stat");
            int n = RandomAccess.Read(stat, buffer, 0);
            var text = buffer[..n];
            int close = text.LastIndexOf((byte)')');
            return close >= 0 && close + 2 < n ? (char)text[close + 2] : '?';
        }
        catch (IOException)
        {
            return '?'; // the thread ended meanwhile
        }
        catch (UnauthorizedAccessException)
        {
            return '?';
        }
    }

    private static string ReadComm(string dir)
    {
        try
        {
            return File.ReadAllText(dir + "/comm").Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
