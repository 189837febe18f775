using Mono.Unix.Native;

namespace PProcess.Tests.Isolation;

/// <summary>What /proc says about processes and descriptors, for assertions.</summary>
public static class ProcFs
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
    public static bool IsRunning(int pid)
    {
        var stat = ReadOrEmpty($"/proc/{pid}/stat");
        int close = stat.LastIndexOf(')');
        return close > 0 && close + 2 < stat.Length && stat[close + 2] != 'Z';
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
