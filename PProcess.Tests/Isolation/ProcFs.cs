using System.Runtime.InteropServices;
using Mono.Unix.Native;
using PProcess.Processes;

namespace PProcess.Tests.Isolation;

/// <summary>What /proc says about processes and descriptors, for assertions.</summary>
public static partial class ProcFs
{
    /// <summary>The pids of the children of a process (all its threads), from /proc/PID/task/TID/children.</summary>
    public static int[] Children(int pid) =>
        Directory.EnumerateDirectories($"/proc/{pid}/task")
            .SelectMany(task => ReadOrEmpty(task + "/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(int.Parse)
            .ToArray();

    /// <summary>The open descriptors of this process and what they point at.</summary>
    public static SortedDictionary<int, string> OpenDescriptors()
    {
        var result = new SortedDictionary<int, string>();
        foreach (var entry in Directory.GetFiles("/proc/self/fd"))
        {
            if (int.TryParse(Path.GetFileName(entry), out int fd))
            {
                try
                {
                    result[fd] = File.ResolveLinkTarget(entry, false)?.ToString() ?? "?";
                }
                catch (IOException)
                {
                    // The descriptor of the directory listing itself, closed by now.
                }
            }
        }
        return result;
    }

    /// <summary>
    /// The shared anonymous mappings of this process (a shared-memory channel's region shows as
    /// "/dev/zero (deleted)" in /proc/self/maps), as their address ranges.
    /// </summary>
    public static string[] SharedAnonymousMappings() =>
        File.ReadAllLines("/proc/self/maps").Where(line => line.Contains("/dev/zero")).Select(line => line.Split(' ')[0]).ToArray();

    /// <summary>True while a process exists and has not exited (it is not a zombie).</summary>
    public static bool IsRunning(int pid) => ProcStat.Of(pid) is { HasEnded: false };

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    /// <summary>The kernel's id of the calling thread (its /proc/self/task entry).</summary>
    public static int ThreadId() => GetTid();

    /// <summary>True while a thread of this process is asleep in poll or ppoll (x86-64: 7, 271; arm64: 73).</summary>
    public static bool IsBlockedInPoll(int tid)
    {
        var words = ReadOrEmpty($"/proc/self/task/{tid}/syscall").Split(' ');
        return long.TryParse(words[0], out long call) && RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => call is 7 or 271,
            Architecture.Arm64 => call is 73,
            var other => throw new PlatformNotSupportedException($"system call numbers for {other}"),
        };
    }

    /// <summary>True when this process has no child left to reap (waitpid says ECHILD).</summary>
    public static bool NoChildrenLeft()
    {
        int r = Syscall.waitpid(-1, out _, WaitOptions.WNOHANG);
        return r == -1 && Stdlib.GetLastError() == Errno.ECHILD;
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }
}
