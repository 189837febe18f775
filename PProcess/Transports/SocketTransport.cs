using PProcess.Native;
using PProcess.Runtime;

namespace PProcess.Transports;

/// <summary>
/// One end of a Unix stream socketpair. Bytes written before the writer exits stay readable
/// afterwards, so a child can send its result and _exit at once, with no acknowledgement
/// (docs/channels.md). It buffers nothing: the channel reads into its own inbox (Channels/Inbox.cs),
/// a whole small message in one system call.
/// </summary>
internal sealed unsafe class SocketTransport : IChannelTransport
{
    private readonly SafeDescriptor socket;
    private readonly int fd;

    internal SocketTransport(int fd)
    {
        socket = new SafeDescriptor(fd);
        this.fd = fd;
        PollDescriptors = [fd];
    }

    public int[] PollDescriptors { get; }

    public TimeSpan SpinLimit => TimeSpan.Zero;

    public int[] Descriptors => PollDescriptors;

    public bool ArmWakeUp() => false;

    public bool DataWaiting => false;

    public bool WaitsByReading => true;

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

    public int Read(Span<byte> buffer) => buffer.IsEmpty ? 0 : ReadFromSocket(buffer, 0);

    public int TryRead(Span<byte> buffer) => buffer.IsEmpty ? -1 : ReadFromSocket(buffer, LibC.MSG_DONTWAIT);

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

    public void Dispose() => socket.Dispose();
}
