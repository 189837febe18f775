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

    /// <summary>
    /// Checks an address and returns it as an absolute path, or throws a clear error: its length,
    /// and a directory that exists and that only this user can write to (<see cref="CheckDirectory"/>).
    /// </summary>
    internal static string Validate(string address)
    {
        var path = FullPath(address);
        CheckDirectory(path);
        return path;
    }

    /// <summary>An address as an absolute path, checked for what a socket path can hold.</summary>
    internal static string FullPath(string address)
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
        return path;
    }

    /// <summary>What the errors about a socket directory advise.</summary>
    private const string MakeOne = "Put background processes' sockets in a directory of your own that nobody else can write to, made " +
        "for instance with `mkdir -m 700 /tmp/$USER-sockets` (or under $XDG_RUNTIME_DIR or your home directory)";

    /// <summary>
    /// Refuses a socket directory that another user could write to: one owned by another user, or
    /// writable by group or others (even with the sticky bit, as /tmp is), or reached through a
    /// symbolic link of another user. There, another user could replace or remove the socket file,
    /// or plant one before it is made. Root's directories are no exception: root must not trust a
    /// directory of another user either. The directory is checked when the address is given and
    /// again just before the socket is bound.
    /// </summary>
    internal static void CheckDirectory(string path)
    {
        var directory = Path.GetDirectoryName(path) ?? "/";
        uint me = LibC.GetEffectiveUid();
        if (LibC.Stat(directory, followLinks: true, out var status) != 0)
        {
            int errno = LibC.LastError;
            throw errno == Errno.ENOENT
                ? new PersistentProcessException($"The directory of the socket address '{path}' does not exist: create '{directory}' (mode 0700) first.", path)
                : new PersistentProcessException($"The directory of the socket address '{path}' cannot be examined: {LibC.Error("stat", errno).Message}", path);
        }
        if (status.Type != LibC.S_IFDIR)
        {
            throw new PersistentProcessException($"The socket address '{path}' is in '{directory}', which is not a directory.", path);
        }
        if (status.Uid != me)
        {
            throw new PersistentProcessException(
                $"The directory '{directory}' of the socket address '{path}' is owned by uid {status.Uid}, not by this user (uid {me}): " +
                $"its owner could replace the socket file or plant one. {MakeOne}.", path);
        }
        if ((status.Permissions & 0b000_010_010) != 0)
        {
            throw new PersistentProcessException(
                $"The directory '{directory}' of the socket address '{path}' is writable by group or others (mode " +
                $"{Convert.ToString(status.Permissions, 8)}): any of them could replace the socket file or plant one. {MakeOne}, or " +
                $"make this one private (`chmod go-w '{directory}'`).", path);
        }
        if (LibC.Stat(directory, followLinks: false, out var link) == 0 && link.Type == LibC.S_IFLNK && link.Uid != me && link.Uid != 0)
        {
            throw new PersistentProcessException(
                $"The directory of the socket address '{path}' is reached through '{directory}', a symbolic link of uid {link.Uid}, " +
                $"which its owner could point elsewhere. {MakeOne}.", path);
        }
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
        // Non-blocking: a listener whose backlog is full answers EAGAIN at once instead of holding
        // this connect until it accepts (which a daemon that computes, or serves a collector, does not).
        using var socket = new SafeDescriptor(NewSocket(path, nonBlocking: true));
        if (LibC.Connect(socket.Fd, path) == 0)
        {
            return AddressState.Live;
        }
        int refused = LibC.LastError;
        return refused switch
        {
            Errno.ECONNREFUSED => AddressState.Stale,
            // The file went away between lstat and connect.
            Errno.ENOENT => AddressState.Free,
            // A listener with a full backlog is still a listener.
            Errno.EAGAIN => AddressState.Live,
            _ => throw new PersistentProcessException($"The socket address '{path}' cannot be examined: {LibC.Error("connect", refused).Message}", path),
        };
    }

    /// <summary>
    /// Creates a listening socket at <paramref name="path"/>, mode 0600: replaces a stale socket
    /// file, refuses a live one. The descriptor is close-on-exec.
    /// </summary>
    internal static (int Fd, SocketFile File) Listen(string path)
    {
        // Again, now: a queued job's address was checked when it was given.
        CheckDirectory(path);
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
        using var socket = new SafeDescriptor(NewSocket(path));
        int fd = socket.Fd;
        // The file is created with mode 0600 from the start, so that there is no moment when
        // another user could connect: bind gives it the socket's own mode less the umask, and
        // that mode is set on the descriptor first. Neither a chmod of the path afterwards,
        // which would follow a symbolic link put there meanwhile, nor a change of the
        // process-wide umask, which every other thread would see.
        if (LibC.FChmod(fd, 0b110_000_000 /* 0600 */) != 0)
        {
            throw new PersistentProcessException($"Cannot listen at '{path}': {LibC.Error("fchmod", LibC.LastError).Message}", path);
        }
        if (LibC.Bind(fd, path) != 0)
        {
            int errno = LibC.LastError;
            throw errno == Errno.EADDRINUSE
                ? new PersistentProcessException($"The socket address '{path}' is already in use (another process bound it just now).", path)
                : new PersistentProcessException($"Cannot listen at '{path}': {LibC.Error("bind", errno).Message}", path);
        }
        SocketFile file;
        try
        {
            file = SocketFile.Bound(path);
            if (LibC.Listen(fd, Backlog) != 0)
            {
                throw new PersistentProcessException($"Cannot listen at '{path}': {LibC.Error("listen", LibC.LastError).Message}", path);
            }
        }
        catch
        {
            LibC.Unlink(path);
            throw;
        }
        return (socket.Transfer(), file);
    }

    /// <summary>Connections the kernel queues for a background process that is not accepting (it computes, or serves a collector).</summary>
    private const int Backlog = 16;

    /// <summary>
    /// Connects to the background process at <paramref name="path"/>, or explains why there is
    /// none. Checks that the listener belongs to this user (SO_PEERCRED). A connection waits for
    /// room in a full listen backlog for <paramref name="timeout"/> at most.
    /// </summary>
    internal static int Connect(string path, TimeSpan timeout)
    {
        using var socket = new SafeDescriptor(NewSocket(path));
        int fd = socket.Fd;
        if (LibC.ConnectWithin(fd, path, Deadline.After(timeout)) != 0)
        {
            int errno = LibC.LastError;
            throw errno switch
            {
                Errno.EAGAIN => new PersistentProcessException(
                    $"The background process at '{path}' takes no connection: its listen backlog is full (while it computes " +
                    $"or serves a collector, the kernel queues about {Backlog} connections for it), and no place came free " +
                    $"within {timeout.TotalSeconds:0.###} s (PersistentExchangeOptions.ConnectTimeout). Try again later.", path),
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
        return socket.Transfer();
    }

    private static bool IsSocket(string path) => LibC.FileType(path) == LibC.S_IFSOCK;

    private static int NewSocket(string path, bool nonBlocking = false)
    {
        int fd = LibC.UnixSocket(nonBlocking);
        if (fd < 0)
        {
            throw new PersistentProcessException($"Cannot create a socket for '{path}': {LibC.Error("socket", LibC.LastError).Message}", path);
        }
        return fd;
    }
}
