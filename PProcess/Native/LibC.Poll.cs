using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>One descriptor for <see cref="LibC.Poll"/>: struct pollfd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    internal int Fd;
    internal short Events;
    internal short ReturnedEvents;

    internal static PollFd ForInput(int fd) => new() { Fd = fd, Events = LibC.POLLIN };
}

internal static unsafe partial class LibC
{
    /// <summary>
    /// poll(2), declared here: Tmds.LibC declares it without SetLastError, so an EINTR cannot be
    /// told from any other failure.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    private static partial int PollOnce(PollFd* fds, nuint count, int timeout);

    private static long interruptions;

    /// <summary>How many times a poll of this process returned EINTR and was retried (for tests).</summary>
    internal static long PollInterruptions => Interlocked.Read(ref interruptions);

    /// <summary>
    /// Waits until a descriptor of <paramref name="fds"/> is ready or <paramref name="deadline"/>
    /// passes, retrying EINTR against the time left. Returns the number ready (0 at the deadline).
    /// </summary>
    internal static int Poll(Span<PollFd> fds, Deadline deadline)
    {
        fixed (PollFd* p = fds)
        {
            while (true)
            {
                int n = PollOnce(p, (nuint)fds.Length, deadline.PollTimeout());
                if (n >= 0)
                {
                    return n;
                }
                int errno = LastError;
                if (errno != Errno.EINTR)
                {
                    throw Error("poll", errno);
                }
                Interlocked.Increment(ref interruptions);
            }
        }
    }
}
