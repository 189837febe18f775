using System.Text;
using PProcess.Native;

namespace PProcess.Persistence;

/// <summary>What is found at a socket address before listening there.</summary>
internal enum AddressState
{
    /// <summary>No file at the address.</summary>
    Free,
    /// <summary>A socket file that nobody listens on (ECONNREFUSED): left by a crashed run.</summary>
    Stale,
    /// <summary>A socket file with a listener: a background process is there.</summary>
    Live,
}

/// <summary>
/// The named Unix socket addresses of background processes: validation (sun_path holds 108
/// bytes with the terminating NUL), the state of what is at an address, listening and connecting.
/// Every call here is synchronous: a background process runs in a forked child with no thread pool.
/// </summary>
internal static class UnixSocketAddress
{
    /// <summary>sizeof(sockaddr_un.sun_path) on Linux, the terminating NUL included.</summary>
    internal const int SunPathSize = LibC.SunPathSize;

    /// <summary>Checks an address and returns it as an absolute path, or throws a clear error.</summary>
    internal static string Validate(string address)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        if (address.Contains('\0'))
        {
            throw new ArgumentException($"The socket address '{address.Replace("\0", "\\0")}' contains a NUL character.", nameof(address));
        }
        var path = Path.GetFullPath(address);
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes >= SunPathSize)
        {
            throw new PersistentProcessException(
                $"The socket address '{path}' is {bytes} bytes long; a Unix socket path holds at most {SunPathSize - 1} " +
                "bytes (sun_path is 108 bytes with its terminating NUL). Use a shorter path, such as one under /tmp.", path);
        }
        var directory = Path.GetDirectoryName(path);
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new PersistentProcessException(
                $"The directory of the socket address '{path}' does not exist: create '{directory}' (mode 0700) first.", path);
        }
        return path;
    }

    /// <summary>Says whether a file is at <paramref name="path"/>, and if it is a socket, whether anybody listens.</summary>
    internal static AddressState Probe(string path)
    {
        int type = LibC.FileType(path);
        if (type < 0)
        {
            int errno = LibC.LastError;
            if (errno == Errno.ENOENT)
            {
                return AddressState.Free;
            }
            throw new PersistentProcessException($"The socket address '{path}' cannot be examined: {LibC.Error("lstat", errno).Message}", path);
        }
        if (type != LibC.S_IFSOCK)
        {
            throw new PersistentProcessException($"The socket address '{path}' is taken by a file that is not a socket; it is left alone.", path);
        }
        int fd = NewSocket(path);
        try
        {
            if (LibC.Connect(fd, path) == 0)
            {
                return AddressState.Live;
            }
            int errno = LibC.LastError;
            return errno switch
            {
                Errno.ECONNREFUSED => AddressState.Stale,
                // The file went away between lstat and connect.
                Errno.ENOENT => AddressState.Free,
                // A listener with a full backlog is still a listener.
                Errno.EAGAIN => AddressState.Live,
                _ => throw new PersistentProcessException($"The socket address '{path}' cannot be examined: {LibC.Error("connect", errno).Message}", path),
            };
        }
        finally
        {
            LibC.Close(fd);
        }
    }

    /// <summary>
    /// Creates a listening socket at <paramref name="path"/>, mode 0600: replaces a stale socket
    /// file, refuses a live one. The descriptor is close-on-exec.
    /// </summary>
    internal static int Listen(string path)
    {
        switch (Probe(path))
        {
            case AddressState.Live:
                throw new PersistentProcessException(
                    $"The socket address '{path}' is already in use: a background process listens there. Collect its results " +
                    "(connect to it) or choose another address.", path);
            case AddressState.Stale:
                // Left by a run that crashed: nobody can connect to it any more.
                LibC.Unlink(path);
                break;
        }
        int fd = NewSocket(path);
        try
        {
            // The file is created with mode 0600 from the start (umask 0177 during bind), so that
            // there is no moment when another user could connect. umask is process-wide: the caller
            // is quiescent (one thread), as every fork requires anyway.
            int old = LibC.Umask(0b001_111_111 /* 0177 */);
            int bound;
            int errno;
            try
            {
                bound = LibC.Bind(fd, path);
                errno = bound == 0 ? 0 : LibC.LastError;
            }
            finally
            {
                LibC.Umask(old);
            }
            if (bound != 0)
            {
                throw errno == Errno.EADDRINUSE
                    ? new PersistentProcessException($"The socket address '{path}' is already in use (another process bound it just now).", path)
                    : new PersistentProcessException($"Cannot listen at '{path}': {LibC.Error("bind", errno).Message}", path);
            }
            if (LibC.Chmod(path, 0b110_000_000 /* 0600 */) != 0 || LibC.Listen(fd, 16) != 0)
            {
                int e = LibC.LastError;
                LibC.Unlink(path);
                throw new PersistentProcessException($"Cannot listen at '{path}': {LibC.Error("chmod/listen", e).Message}", path);
            }
            return fd;
        }
        catch
        {
            LibC.Close(fd);
            throw;
        }
    }

    /// <summary>
    /// Connects to the background process at <paramref name="path"/>, or explains why there is
    /// none. Checks that the listener belongs to this user (SO_PEERCRED).
    /// </summary>
    internal static int Connect(string path)
    {
        int fd = NewSocket(path);
        try
        {
            if (LibC.Connect(fd, path) != 0)
            {
                int errno = LibC.LastError;
                throw errno switch
                {
                    Errno.ENOENT => new PersistentProcessException(
                        $"No background process at '{path}': there is no socket file. It was never started there, or its " +
                        "results were already collected and confirmed.", path),
                    Errno.ECONNREFUSED => IsSocket(path)
                        ? new PersistentProcessException(
                            $"The background process at '{path}' is gone: its socket file exists but nobody listens on it. It " +
                            "crashed or was killed before its results were collected; they are lost.", path)
                        : new PersistentProcessException($"'{path}' is not a socket: no background process is there.", path),
                    Errno.EACCES => new PersistentProcessException(
                        $"Permission denied connecting to '{path}': the socket belongs to another user (mode 0600).", path),
                    _ => new PersistentProcessException($"Cannot connect to '{path}': {LibC.Error("connect", errno).Message}", path),
                };
            }
            var peer = PeerCredentials.Of(fd);
            if (peer.Uid != LibC.GetEffectiveUid())
            {
                throw new PersistentProcessException(
                    $"The process listening at '{path}' (pid {peer.Pid}) runs as uid {peer.Uid}, not as this user " +
                    $"(uid {LibC.GetEffectiveUid()}): it is not a background process of ours, and nothing is sent to it.", path);
            }
            return fd;
        }
        catch
        {
            LibC.Close(fd);
            throw;
        }
    }

    private static bool IsSocket(string path) => LibC.FileType(path) == LibC.S_IFSOCK;

    private static int NewSocket(string path)
    {
        int fd = LibC.UnixSocket();
        if (fd < 0)
        {
            throw new PersistentProcessException($"Cannot create a socket for '{path}': {LibC.Error("socket", LibC.LastError).Message}", path);
        }
        return fd;
    }
}
