using System.Runtime.InteropServices;
using T = Tmds.Linux.LibC;

namespace PProcess.Native;

/// <summary>Unix stream sockets: pairs, named sockets with sockaddr_un, peer credentials, socket files (Tmds.LibC).</summary>
internal static unsafe partial class LibC
{
    /// <summary>A connected pair of close-on-exec stream sockets; 0, or -1 with errno set.</summary>
    internal static int SocketPair(out int first, out int second)
    {
        int* fds = stackalloc int[2];
        int result = T.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
        (first, second) = result == 0 ? (fds[0], fds[1]) : (-1, -1);
        return result;
    }

    /// <summary>
    /// A socketpair whose first end receives each writer's credentials (<see cref="PassCredentials"/>),
    /// for a relay that must know which child wrote: 0, or -1 with errno and nothing left open.
    /// </summary>
    internal static int CredentialSocketPair(out int read, out int write)
    {
        if (SocketPair(out read, out write) != 0)
        {
            return -1;
        }
        if (PassCredentials(read) != 0)
        {
            int errno = LastError;
            Close(read);
            Close(write);
            (read, write) = (-1, -1);
            Marshal.SetLastPInvokeError(errno);
            return -1;
        }
        return 0;
    }

    /// <summary>A new close-on-exec Unix stream socket (non-blocking if asked), or -1.</summary>
    internal static int UnixSocket(bool nonBlocking = false) => T.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0), 0);

    internal static int Bind(int fd, string path)
    {
        var address = Address(path, out int length);
        return T.bind(fd, (Tmds.Linux.sockaddr*)&address, length);
    }

    /// <summary>connect(2) to the socket file at <paramref name="path"/>, restarted after EINTR.</summary>
    internal static int Connect(int fd, string path)
    {
        var address = Address(path, out int length);
        return (int)Restart(&ConnectOnce, fd, &address, (nuint)length, 0);
    }

    private static long ConnectOnce(int fd, void* address, nuint length, int flags) => T.connect(fd, (Tmds.Linux.sockaddr*)address, (int)length);

    /// <summary>
    /// connect(2) of a blocking socket that waits for room in a full listen backlog until
    /// <paramref name="deadline"/> at most, then fails with EAGAIN: the kernel bounds a Unix stream
    /// connect by the socket's SO_SNDTIMEO (unix_stream_connect), and wakes it as soon as the
    /// listener accepts. An EINTR is retried against the time left. The send timeout is cleared after.
    /// </summary>
    internal static int ConnectWithin(int fd, string path, Deadline deadline)
    {
        var address = Address(path, out int length);
        try
        {
            while (true)
            {
                // SO_SNDTIMEO of zero means no limit: at the deadline, wait a microsecond instead.
                var left = deadline.Remaining ?? TimeSpan.Zero;
                if (SetSendTimeout(fd, left > TimeSpan.Zero ? left : TimeSpan.FromMicroseconds(1)) != 0)
                {
                    return -1;
                }
                int result = T.connect(fd, (Tmds.Linux.sockaddr*)&address, length);
                if (result == 0 || LastError != Errno.EINTR)
                {
                    return result;
                }
            }
        }
        finally
        {
            int errno = LastError;
            SetSendTimeout(fd, TimeSpan.Zero);
            Marshal.SetLastPInvokeError(errno);
        }
    }

    internal static int Listen(int fd, int backlog) => T.listen(fd, backlog);

    /// <summary>accept4(2), close-on-exec, restarted after EINTR: the connection's descriptor, or -1.</summary>
    internal static int Accept(int fd) => (int)Restart(&AcceptOnce, fd, null, 0, SOCK_CLOEXEC);

    private static long AcceptOnce(int fd, void* unused, nuint length, int flags) => T.accept4(fd, null, null, flags);

    /// <summary>getsockopt(SO_PEERCRED): the credentials the kernel recorded for the peer at connect time; 0 or -1.</summary>
    internal static int PeerCredentials(int fd, out int pid, out uint uid, out uint gid)
    {
        Tmds.Linux.ucred credentials = default;
        Tmds.Linux.socklen_t length = (uint)sizeof(Tmds.Linux.ucred);
        int result = T.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length);
        (pid, uid, gid) = (credentials.pid, credentials.uid, credentials.gid);
        return result;
    }

    /// <summary>SO_SNDTIMEO: a write that cannot go on for <paramref name="timeout"/> fails with EAGAIN; 0 or -1.</summary>
    internal static int SetSendTimeout(int fd, TimeSpan timeout)
    {
        // struct timeval (two longs on 64-bit Linux), which Tmds.LibC does not declare.
        long* limit = stackalloc long[2];
        limit[0] = (long)timeout.TotalSeconds;
        limit[1] = timeout.Ticks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMicrosecond;
        return T.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, limit, 2 * sizeof(long));
    }

    /// <summary>Asks the kernel to attach each sender's credentials to what this socket receives (SO_PASSCRED); 0 or -1.</summary>
    internal static int PassCredentials(int fd)
    {
        int on = 1;
        return T.setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(int));
    }

    /// <summary>
    /// recvmsg(2) on a socket with <see cref="PassCredentials"/>: the bytes read (0 at the end, -1
    /// with errno), and the pid of the process that sent them. The kernel never joins the bytes of
    /// two senders in one read. <paramref name="wait"/> false: MSG_DONTWAIT.
    /// </summary>
    internal static long ReceiveWithSender(int fd, byte* buffer, nuint length, bool wait, out int pid)
    {
        Tmds.Linux.iovec part = default;
        part.iov_base = buffer;
        part.iov_len = (Tmds.Linux.size_t)(ulong)length;
        byte* control = stackalloc byte[64];
        Tmds.Linux.msghdr message = default;
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        message.msg_control = control;
        message.msg_controllen = 64;
        long n = (long)(Tmds.Linux.ssize_t)T.recvmsg(fd, &message, wait ? 0 : MSG_DONTWAIT);
        pid = 0;
        // One SCM_CREDENTIALS message: a 16-byte cmsghdr (length, level, type), then struct ucred.
        if (n > 0 && (ulong)message.msg_controllen >= 16 + 4 && *(int*)(control + 8) == SOL_SOCKET && *(int*)(control + 12) == SCM_CREDENTIALS)
        {
            pid = *(int*)(control + 16);
        }
        return n;
    }

    internal static int Unlink(string path)
    {
        fixed (byte* p = Path(path))
        {
            return T.unlink(p);
        }
    }

    /// <summary>The file type bits (st_mode &amp; S_IFMT) of <paramref name="path"/>, not following a link; -1 with errno set.</summary>
    internal static int FileType(string path)
    {
        Tmds.Linux.stat info;
        fixed (byte* p = Path(path))
        {
            return T.lstat(p, &info) == 0 ? (ushort)info.st_mode & S_IFMT : -1;
        }
    }

    private static Tmds.Linux.sockaddr_un Address(string path, out int length)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path);
        if (bytes.Length >= SunPathSize)
        {
            throw new ArgumentException($"A Unix socket path holds at most {SunPathSize - 1} bytes: '{path}'.", nameof(path));
        }
        Tmds.Linux.sockaddr_un address = default;
        address.sun_family = AF_UNIX;
        var target = new Span<byte>(address.sun_path, SunPathSize);
        bytes.CopyTo(target);
        target[bytes.Length] = 0;
        length = sizeof(ushort) + bytes.Length + 1;
        return address;
    }
}
