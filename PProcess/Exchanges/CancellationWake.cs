using Mono.Unix.Native;
using PProcess.Native;
using PProcess.Runtime;

namespace PProcess.Exchanges;

/// <summary>
/// A pipe that the exchange's poll also watches, written to when a cancellation token is
/// cancelled, so that a blocked poll wakes at once instead of at its next timeout. The write
/// end is non-blocking: the callback never waits. Both ends are closed in every child.
/// </summary>
internal sealed class CancellationWake : IDisposable
{
    private readonly int readFd;
    private readonly int writeFd;
    private readonly CancellationTokenRegistration registration;
    private bool disposed;

    internal CancellationWake(CancellationToken token)
    {
        var fds = new int[2];
        if (Syscall.pipe(fds) != 0)
        {
            throw NativeErrors.Error("pipe", Stdlib.GetLastError());
        }
        (readFd, writeFd) = (fds[0], fds[1]);
        DescriptorRegistry.Add(readFd);
        DescriptorRegistry.Add(writeFd);
        foreach (var fd in fds)
        {
            int flags = Syscall.fcntl(fd, FcntlCommand.F_GETFL);
            Syscall.fcntl(fd, FcntlCommand.F_SETFL, flags | (int)OpenFlags.O_NONBLOCK);
        }
        registration = token.UnsafeRegister(static state => ((CancellationWake)state!).Signal(), this);
    }

    /// <summary>The descriptor poll watches: readable once the token is cancelled.</summary>
    internal int PollDescriptor => readFd;

    private unsafe void Signal()
    {
        byte one = 1;
        // EAGAIN (the pipe is full) or EBADF (disposed meanwhile) are both fine: nothing to do.
        Syscall.write(writeFd, &one, 1);
    }

    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        registration.Dispose();
        DescriptorRegistry.Remove(readFd);
        DescriptorRegistry.Remove(writeFd);
        Syscall.close(readFd);
        Syscall.close(writeFd);
    }
}
