using Mono.Unix.Native;
using PProcess.Native;
using PProcess.Runtime;

namespace PProcess.Pools;

/// <summary>
/// A non-blocking pipe that a poll loop watches, so that another thread can wake it. Both ends are
/// registered, so that every child closes them.
/// </summary>
internal sealed class WakePipe : IDisposable
{
    private readonly int readFd;
    private readonly int writeFd;
    private int disposed;

    internal WakePipe()
    {
        var fds = new int[2];
        if (Syscall.pipe(fds) != 0)
        {
            throw NativeErrors.Error("pipe", Stdlib.GetLastError());
        }
        (readFd, writeFd) = (fds[0], fds[1]);
        foreach (var fd in fds)
        {
            DescriptorRegistry.Add(fd);
            int flags = Syscall.fcntl(fd, FcntlCommand.F_GETFL);
            Syscall.fcntl(fd, FcntlCommand.F_SETFL, flags | (int)OpenFlags.O_NONBLOCK);
        }
    }

    internal int PollDescriptor => readFd;

    /// <summary>Wakes the loop; never blocks (a full pipe already wakes it).</summary>
    internal unsafe void Signal()
    {
        // Under the lock that Dispose takes: a write racing a close could land in whatever
        // descriptor reused the number.
        lock (closeGate)
        {
            if (disposed == 0)
            {
                byte one = 1;
                Syscall.write(writeFd, &one, 1);
            }
        }
    }

    private readonly object closeGate = new();

    /// <summary>Empties the pipe after a wake.</summary>
    internal unsafe void Drain()
    {
        byte* buffer = stackalloc byte[64];
        while (Syscall.read(readFd, buffer, 64) > 0)
        {
        }
    }

    public void Dispose()
    {
        lock (closeGate)
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0)
            {
                return;
            }
            DescriptorRegistry.Remove(readFd);
            DescriptorRegistry.Remove(writeFd);
            Syscall.close(readFd);
            Syscall.close(writeFd);
        }
    }
}
