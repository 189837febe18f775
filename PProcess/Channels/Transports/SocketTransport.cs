using Mono.Unix.Native;
using PProcess.Native;

namespace PProcess.Transports;

/// <summary>
/// One end of a Unix stream socketpair. Bytes written before the writer exits stay readable
/// afterwards, so a child can send its result and _exit at once, with no acknowledgement
/// (docs/channels.md). Small reads are served from a 16 KiB buffer filled by one read; bytes
/// waiting there are invisible to poll, which is why a poll loop asks <see cref="ArmWakeUp"/> first.
/// </summary>
internal sealed unsafe class SocketTransport : IChannelTransport
{
    /// <summary>The size of the read buffer; reads at least this large bypass it.</summary>
    private const int BufferSize = 16 * 1024;

    private int fd;
    private byte[]? readBuffer;
    private int start;
    private int buffered;

    internal SocketTransport(int fd) => this.fd = fd;

    public int PollDescriptor => fd;

    public int HangUpDescriptor => -1;

    public int[] Descriptors => [fd];

    public bool ArmWakeUp() => buffered > 0;

    public bool DataWaiting => buffered > 0;

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
        if (buffered > 0)
        {
            return TakeBuffered(buffer);
        }
        if (buffer.Length >= BufferSize)
        {
            // A large read (an array's payload) goes straight into the caller's memory.
            return ReadFromSocket(buffer, 0);
        }
        // Small reads (a header, a type name, a small value) are served from one larger read:
        // a message then costs one system call instead of four (docs/performance.md).
        readBuffer ??= new byte[BufferSize];
        int n = ReadFromSocket(readBuffer, 0);
        if (n == 0)
        {
            return 0;
        }
        (start, buffered) = (0, n);
        return TakeBuffered(buffer);
    }

    private int TakeBuffered(Span<byte> buffer)
    {
        int n = Math.Min(buffered, buffer.Length);
        readBuffer.AsSpan(start, n).CopyTo(buffer);
        start += n;
        buffered -= n;
        return n;
    }

    private int ReadFromSocket(Span<byte> buffer, MessageFlags flags)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                long n = flags == 0 ? Syscall.read(fd, p, (ulong)buffer.Length) : Syscall.recv(fd, p, (ulong)buffer.Length, flags);
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
                if (errno == Errno.EAGAIN && flags != 0)
                {
                    return -1;
                }
                throw NativeErrors.Error(flags == 0 ? "read from channel" : "recv from channel", errno);
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
        if (buffered > 0)
        {
            return ProbeResult.Data;
        }
        // Reads what is there into the buffer (instead of peeking at it): the receive that follows
        // is then served without another system call.
        readBuffer ??= new byte[BufferSize];
        int n = ReadFromSocket(readBuffer, MessageFlags.MSG_DONTWAIT);
        if (n > 0)
        {
            (start, buffered) = (0, n);
            return ProbeResult.Data;
        }
        return n == 0 ? ProbeResult.EndOfStream : ProbeResult.Empty;
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
