using PProcess.Native;
using PProcess.Runtime;

namespace PProcess.Channels;

/// <summary>
/// A non-blocking pipe that a <see cref="ChannelSet{TOwner}"/> polls with its channels, so that
/// another thread (or a cancelled token) can wake the loop at once. Both ends are registered, so
/// every child closes them.
/// </summary>
internal sealed unsafe class WakeSignal : IDisposable
{
    private readonly SafeDescriptor readEnd;
    private readonly SafeDescriptor writeEnd;
    private readonly object closeGate = new();

    internal WakeSignal()
    {
        if (LibC.Pipe(out int read, out int write) != 0)
        {
            throw LibC.Error("pipe", LibC.LastError);
        }
        (readEnd, writeEnd) = (new SafeDescriptor(read), new SafeDescriptor(write));
        DescriptorRegistry.Add(read);
        DescriptorRegistry.Add(write);
    }

    internal int PollDescriptor => readEnd.Fd;

    /// <summary>Wakes the loop; never blocks (a full pipe already wakes it). Safe from any thread, and after disposal.</summary>
    internal void Signal()
    {
        // Under the lock that Dispose takes: a write racing a close could land in whatever
        // descriptor reused the number.
        lock (closeGate)
        {
            if (!writeEnd.IsClosed)
            {
                byte one = 1;
                LibC.Write(writeEnd.Fd, &one, 1);
            }
        }
    }

    /// <summary>Consumes the wake-ups signalled so far.</summary>
    internal void Drain()
    {
        byte* buffer = stackalloc byte[64];
        while (LibC.Read(readEnd.Fd, buffer, 64) > 0)
        {
        }
    }

    public void Dispose()
    {
        lock (closeGate)
        {
            if (!writeEnd.IsClosed)
            {
                DescriptorRegistry.Remove(readEnd.Fd);
                DescriptorRegistry.Remove(writeEnd.Fd);
                readEnd.Dispose();
                writeEnd.Dispose();
            }
        }
    }
}
