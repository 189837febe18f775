using PProcess.Native;
using PProcess.Runtime;

namespace PProcess.Channels;

/// <summary>
/// An eventfd that a <see cref="ChannelSet{TOwner}"/> polls with its channels, so that another
/// thread (or a cancelled token) can wake the loop at once. It is registered, so every child
/// closes it.
/// </summary>
internal sealed class WakeUp : IDisposable
{
    private readonly SafeDescriptor eventFd;

    internal WakeUp()
    {
        int fd = LibC.EventFd();
        if (fd < 0)
        {
            throw LibC.Error("eventfd", LibC.LastError);
        }
        eventFd = new SafeDescriptor(fd);
        DescriptorRegistry.Add(fd);
    }

    internal int PollDescriptor => eventFd.Fd;

    /// <summary>Wakes the loop; never blocks. Safe from any thread, and after disposal (then it does nothing).</summary>
    internal void Wake()
    {
        // The reference held across the write keeps the descriptor open: a Dispose meanwhile closes
        // it after the write, so the write cannot land in a descriptor that reused the number.
        bool held = false;
        try
        {
            eventFd.DangerousAddRef(ref held);
            LibC.Wake(eventFd.Fd);
        }
        catch (ObjectDisposedException)
        {
            // Disposed: no loop is left to wake.
        }
        finally
        {
            if (held)
            {
                eventFd.DangerousRelease();
            }
        }
    }

    /// <summary>Consumes the wake-ups so far.</summary>
    internal void Drain() => LibC.Drain(eventFd.Fd);

    public void Dispose()
    {
        if (!eventFd.IsClosed)
        {
            DescriptorRegistry.Remove(eventFd.Fd);
            eventFd.Dispose();
        }
    }
}
