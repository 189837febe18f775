using PProcess.Native;

namespace PProcess.Runtime;

/// <summary>
/// The loop of a thread that reads a socket children write to (<see cref="StandardErrorRelay"/>,
/// <see cref="ChildMessageRelay"/>): it waits outside the lock until something can be read, then
/// reads it under the lock, which a reap's drain takes too, so that a drain never finds a piece read
/// from the socket but not yet handled.
/// </summary>
internal static class RelayThread
{
    /// <summary>Runs until the socket fails. <paramref name="drain"/> reads every piece waiting (under <paramref name="gate"/>), false when there was none.</summary>
    internal static void Run(int readEnd, object gate, Func<bool> drain)
    {
        Span<PollFd> readable = [PollFd.ForInput(readEnd)];
        while (true)
        {
            if (LibC.Poll(readable, Deadline.Never) < 0 && LibC.LastError != Errno.EINTR)
            {
                return;
            }
            bool ended;
            lock (gate)
            {
                // Nothing read and not for want of data (a drain took it first): the socket failed, and no thread spins on it.
                ended = !drain() && LibC.LastError is not (Errno.EAGAIN or Errno.EINTR);
            }
            if (ended)
            {
                return;
            }
        }
    }
}
