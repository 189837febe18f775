using System.Diagnostics;
using Mono.Unix.Native;

namespace PProcess.Examples;

/// <summary>Waiting for a message on one channel with a time limit, with poll(2): a child has no timers or thread pool.</summary>
public static class ChannelWait
{
    /// <summary>True when a message (or the end of the stream) can be read from <paramref name="channel"/> within <paramref name="timeout"/>.</summary>
    public static bool ForMessage(Channel channel, TimeSpan timeout)
    {
        var fds = new[] { new Pollfd { fd = channel.FileDescriptor, events = PollEvents.POLLIN } };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            int wait = (int)Math.Clamp((timeout - clock.Elapsed).TotalMilliseconds, 0, int.MaxValue);
            int n = Syscall.poll(fds, wait);
            if (n >= 0)
            {
                return n > 0;
            }
            if (Stdlib.GetLastError() != Errno.EINTR)
            {
                throw new IOException($"poll on {channel} failed: {Stdlib.GetLastError()}");
            }
        }
    }
}
