using PProcess.Native;
using PProcess.Runtime;

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

    private readonly SafeDescriptor socket;
    private readonly int fd;
    private byte[]? readBuffer;
    private int start;
    private int buffered;

    internal SocketTransport(int fd)
    {
        socket = new SafeDescriptor(fd);
        this.fd = fd;
        PollDescriptors = [fd];
    }

    public int[] PollDescriptors { get; }

    public TimeSpan SpinLimit => TimeSpan.Zero;

    public int[] Descriptors => PollDescriptors;

    public bool ArmWakeUp() => buffered > 0;

    public bool DataWaiting => buffered > 0;

    /// <summary>A socketpair made before the fork.</summary>
    internal sealed class Ends : ChannelEnds
    {
        private readonly int parent;
        private readonly int child;

        internal Ends() => (parent, child) = CreatePair();

        internal override int[] Descriptors => [parent, child];

        internal override IChannelTransport Parent()
        {
            DescriptorRegistry.Close(child);
            return new SocketTransport(parent);
        }

        internal override IChannelTransport Child()
        {
            DescriptorRegistry.Close(parent);
            return new SocketTransport(child);
        }

        internal override void Abandon()
        {
            DescriptorRegistry.Close(parent);
            DescriptorRegistry.Close(child);
        }
    }

    /// <summary>Creates a connected pair, close-on-exec, as (parent end, child end).</summary>
    internal static (int Parent, int Child) CreatePair()
    {
        if (LibC.SocketPair(out int a, out int b) != 0)
        {
            int errno = LibC.LastError;
            throw new ForkException($"socketpair failed: {Errno.Name(errno)}{Errno.ShortageHint(errno)}", errno);
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

    /// <summary>Reads (or, with MSG_DONTWAIT, receives without blocking: -1 when nothing is there); 0 at the end of the stream.</summary>
    private int ReadFromSocket(Span<byte> buffer, int flags)
    {
        fixed (byte* p = buffer)
        {
            long n = flags == 0 ? LibC.Read(fd, p, (nuint)buffer.Length) : LibC.Receive(fd, p, (nuint)buffer.Length, flags);
            if (n >= 0)
            {
                return (int)n;
            }
            int errno = LibC.LastError;
            if (errno == Errno.ECONNRESET)
            {
                return 0;
            }
            if (errno == Errno.EAGAIN && flags != 0)
            {
                return -1;
            }
            throw LibC.Error(flags == 0 ? "read from channel" : "recv from channel", errno);
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
                long n = LibC.Write(fd, p, (nuint)left);
                if (n < 0)
                {
                    int errno = LibC.LastError;
                    if (errno is Errno.EPIPE or Errno.ECONNRESET)
                    {
                        throw new IOException("The other end of the channel is closed (EPIPE): the peer process has ended or closed it.", errno);
                    }
                    throw LibC.Error("write to channel", errno);
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
        int n = ReadFromSocket(readBuffer, LibC.MSG_DONTWAIT);
        if (n > 0)
        {
            (start, buffered) = (0, n);
            return ProbeResult.Data;
        }
        return n == 0 ? ProbeResult.EndOfStream : ProbeResult.Empty;
    }

    public ProbeResult? WaitForData()
    {
        if (buffered > 0)
        {
            return ProbeResult.Data;
        }
        // A blocking read into the buffer: what a reply costs the C ping-pong (docs/performance.md).
        readBuffer ??= new byte[BufferSize];
        int n = ReadFromSocket(readBuffer, 0);
        if (n == 0)
        {
            return ProbeResult.EndOfStream;
        }
        (start, buffered) = (0, n);
        return ProbeResult.Data;
    }

    public void Dispose() => socket.Dispose();
}
