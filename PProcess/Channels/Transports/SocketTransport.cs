using Mono.Unix.Native;
using PProcess.Native;

namespace PProcess.Transports;

/// <summary>
/// One end of a Unix stream socketpair. Bytes written before the writer exits stay readable
/// afterwards, so a child can send its result and _exit at once, with no acknowledgement
/// (docs/channels.md).
/// </summary>
internal sealed unsafe class SocketTransport : IChannelTransport
{
    private int fd;

    internal SocketTransport(int fd) => this.fd = fd;

    public int PollDescriptor => fd;

    public int HangUpDescriptor => -1;

    public int[] Descriptors => [fd];

    public bool ArmWakeUp() => false;

    public bool DataWaiting => false;

    /// <summary>A socketpair made before the fork.</summary>
    internal sealed class Ends : ChannelEnds
    {
        private readonly int parent;
        private readonly int child;

        internal Ends() => (parent, child) = CreatePair();

        internal override IChannelTransport Parent()
        {
            Syscall.close(child);
            return new SocketTransport(parent);
        }

        internal override IChannelTransport Child()
        {
            Syscall.close(parent);
            return new SocketTransport(child);
        }

        internal override void Abandon()
        {
            Syscall.close(parent);
            Syscall.close(child);
        }
    }

    /// <summary>Creates a connected pair, close-on-exec, as (parent end, child end).</summary>
    internal static (int Parent, int Child) CreatePair()
    {
        if (Syscall.socketpair(UnixAddressFamily.AF_UNIX, UnixSocketType.SOCK_STREAM, UnixSocketFlags.SOCK_CLOEXEC,
                (UnixSocketProtocol)0, out int a, out int b) != 0)
        {
            var errno = Stdlib.GetLastError();
            throw new ForkException($"socketpair failed: {errno}{(errno == Errno.EMFILE || errno == Errno.ENFILE ? " (too many open files)" : "")}", (int)NativeConvert.FromErrno(errno));
        }
        return (a, b);
    }

    public int Read(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                long n = Syscall.read(fd, p, (ulong)buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }
                var errno = Stdlib.GetLastError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }
                if (errno == Errno.ECONNRESET)
                {
                    return 0;
                }
                throw NativeErrors.Error("read from channel", errno);
            }
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        fixed (byte* start = data)
        {
            byte* p = start;
            long left = data.Length;
            while (left > 0)
            {
                long n = Syscall.write(fd, p, (ulong)left);
                if (n < 0)
                {
                    var errno = Stdlib.GetLastError();
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }
                    if (errno is Errno.EPIPE or Errno.ECONNRESET)
                    {
                        throw new IOException("The other end of the channel is closed (EPIPE): the peer process has ended or closed it.", (int)NativeConvert.FromErrno(errno));
                    }
                    throw NativeErrors.Error("write to channel", errno);
                }
                p += n;
                left -= n;
            }
        }
    }

    public ProbeResult Probe()
    {
        byte b;
        while (true)
        {
            long n = Syscall.recv(fd, &b, 1, MessageFlags.MSG_PEEK | MessageFlags.MSG_DONTWAIT);
            if (n > 0)
            {
                return ProbeResult.Data;
            }
            if (n == 0)
            {
                return ProbeResult.EndOfStream;
            }
            var errno = Stdlib.GetLastError();
            switch (errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.EAGAIN:
                    return ProbeResult.Empty;
                case Errno.ECONNRESET:
                    return ProbeResult.EndOfStream;
                default:
                    throw NativeErrors.Error("recv(MSG_PEEK) on channel", errno);
            }
        }
    }

    public void Dispose()
    {
        int old = Interlocked.Exchange(ref fd, -1);
        if (old >= 0)
        {
            Syscall.close(old);
        }
    }
}
