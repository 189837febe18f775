using Mono.Unix.Native;

namespace PProcess.Tests.Isolation;

/// <summary>
/// Background processes left by a test: each test gives its processes a unique socket
/// directory, which appears in their command line (examples) or environment (scenarios), so
/// that cleanup finds and kills every one of them by pid, whoever started it.
/// </summary>
public sealed class Daemons : IDisposable
{
    public Daemons()
    {
        Directory = $"/tmp/pt-{Guid.NewGuid().ToString("N")[..8]}";
        System.IO.Directory.CreateDirectory(Directory);
        Syscall.chmod(Directory, FilePermissions.S_IRWXU);
    }

    /// <summary>The unique socket directory, mode 0700.</summary>
    public string Directory { get; }

    /// <summary>The environment that hands the directory to a scenario.</summary>
    public Dictionary<string, string> Environment => new() { [Variable] = Directory };

    public const string Variable = "PPROCESS_TEST_SOCKET_DIR";

    /// <summary>In a scenario: the directory its test made.</summary>
    public static string FromEnvironment() =>
        System.Environment.GetEnvironmentVariable(Variable) ?? throw new InvalidOperationException($"{Variable} is not set.");

    /// <summary>The pids of live (not zombie) processes that mention the directory.</summary>
    public int[] Running() => RunningIn(Directory);

    /// <summary>The pids of live (not zombie) processes, other than this one, that mention <paramref name="directory"/>.</summary>
    public static int[] RunningIn(string directory)
    {
        var found = new List<int>();
        foreach (var entry in System.IO.Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int pid) || pid == System.Environment.ProcessId || IsGone(pid))
            {
                continue;
            }
            if (Read(entry + "/cmdline").Contains(directory) || Read(entry + "/environ").Contains(directory))
            {
                found.Add(pid);
            }
        }
        return found.ToArray();
    }

    /// <summary>True when the process no longer runs: no such pid, or a zombie that nobody has reaped yet.</summary>
    public static bool IsGone(int pid) => !ProcFs.IsRunning(pid);

    /// <summary>Waits (bounded) until the process no longer runs; false if it still does after <paramref name="timeout"/>.</summary>
    public static bool WaitGone(int pid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!IsGone(pid))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }
            Thread.Sleep(10);
        }
        return true;
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>Kills every process still mentioning the directory, and removes the directory.</summary>
    public void Dispose()
    {
        foreach (var pid in Running())
        {
            Syscall.kill(pid, Signum.SIGKILL);
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
