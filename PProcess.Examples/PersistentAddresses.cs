namespace PProcess.Examples;

/// <summary>
/// Where the persistent examples put their sockets: --socket-dir DIR, or /tmp/pprocess-UID,
/// created with mode 0700 so that only its owner can reach the sockets in it.
/// </summary>
public static class PersistentAddresses
{
    public static string Directory(Options options)
    {
        int at = options.Rest.ToList().IndexOf("--socket-dir");
        var dir = at >= 0 && at + 1 < options.Rest.Count
            ? options.Rest[at + 1]
            : Path.Combine("/tmp", $"pprocess-{Mono.Unix.Native.Syscall.geteuid()}");
        System.IO.Directory.CreateDirectory(dir);
        Mono.Unix.Native.Syscall.chmod(dir, Mono.Unix.Native.FilePermissions.S_IRWXU);
        return dir;
    }

    /// <summary>--start: start the background processes and leave; --reconnect: collect them; neither: both in one run.</summary>
    public static (bool Start, bool Reconnect) Mode(Options options) =>
        (options.Rest.Contains("--start"), options.Rest.Contains("--reconnect"));
}
