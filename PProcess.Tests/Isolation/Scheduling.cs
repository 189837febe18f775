using System.Runtime.InteropServices;

namespace PProcess.Tests.Isolation;

/// <summary>
/// Scheduling that makes an interleaving of two processes certain instead of likely: both on one
/// CPU, the one that must win at SCHED_FIFO (it runs as soon as it wakes, until it waits), the one
/// that must lose at SCHED_IDLE (it runs only while nothing else on that CPU can).
/// </summary>
public static partial class Scheduling
{
    private const int SchedOther = 0, SchedFifo = 1, SchedIdle = 5, SchedResetOnFork = 0x40000000;
    private const int EPERM = 1, ESRCH = 3;

    /// <summary>
    /// Pins every thread of this process, and so the threads and processes they start from now on,
    /// to the CPU the calling thread runs on.
    /// </summary>
    public static void PinToThisCpu()
    {
        int cpu = GetCpu();
        Assert.True(cpu >= 0, $"sched_getcpu failed: errno {Marshal.GetLastSystemError()}");
        var mask = new ulong[16];
        mask[cpu / 64] = 1UL << (cpu % 64);
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            int tid = int.Parse(Path.GetFileName(task));
            // A thread that ended since the listing (ESRCH) needs nothing.
            Assert.True(SetAffinity(tid, mask.Length * sizeof(ulong), mask) == 0 || Marshal.GetLastSystemError() == ESRCH,
                $"sched_setaffinity({tid}) failed: errno {Marshal.GetLastSystemError()}");
        }
    }

    /// <summary>Moves the thread <paramref name="tid"/> (a process's main thread: its pid) to SCHED_IDLE.</summary>
    public static void MakeIdle(int tid)
    {
        int priority = 0;
        Assert.True(SetScheduler(tid, SchedIdle, ref priority) == 0, $"sched_setscheduler({tid}, SCHED_IDLE) failed: errno {Marshal.GetLastSystemError()}");
    }

    /// <summary>
    /// Moves the calling thread to SCHED_FIFO (priority 1; what it forks starts at SCHED_OTHER). False
    /// where that is not permitted (without CAP_SYS_NICE, as in a container that drops it).
    /// </summary>
    public static bool TryRealTime()
    {
        int priority = 1;
        if (SetScheduler(0, SchedFifo | SchedResetOnFork, ref priority) == 0)
        {
            return true;
        }
        Assert.True(Marshal.GetLastSystemError() == EPERM, $"sched_setscheduler(SCHED_FIFO) failed: errno {Marshal.GetLastSystemError()}");
        return false;
    }

    /// <summary>Moves the calling thread back to SCHED_OTHER.</summary>
    public static void Normal()
    {
        int priority = 0;
        Assert.True(SetScheduler(0, SchedOther, ref priority) == 0, $"sched_setscheduler(SCHED_OTHER) failed: errno {Marshal.GetLastSystemError()}");
    }

    [LibraryImport("libc", EntryPoint = "sched_getcpu", SetLastError = true)]
    private static partial int GetCpu();

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SetAffinity(int pid, nint size, ulong[] mask);

    [LibraryImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static partial int SetScheduler(int pid, int policy, ref int priority);
}
