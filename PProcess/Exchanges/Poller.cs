using System.Diagnostics;
using Mono.Unix.Native;
using PProcess.Native;

namespace PProcess.Exchanges;

/// <summary>libc poll over a set of channels, with EINTR retried against the remaining timeout.</summary>
internal sealed class Poller
{
    private Pollfd[] fds = [];
    private Channel[] channels = [];
    private bool dirty = true;

    /// <summary>Marks the set as changed; it is rebuilt before the next poll.</summary>
    internal void Invalidate() => dirty = true;

    /// <summary>
    /// Waits until at least one channel is readable or hung up, or the timeout passes
    /// (null: no timeout). Returns those channels.
    /// </summary>
    internal List<Channel> Poll(IReadOnlyList<Channel> active, TimeSpan? timeout)
    {
        if (dirty)
        {
            Rebuild(active);
        }
        var ready = new List<Channel>();
        if (fds.Length == 0)
        {
            return ready;
        }
        long budget = ToMilliseconds(timeout);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            int wait = budget < 0 ? -1 : (int)Math.Max(0, budget - clock.ElapsedMilliseconds);
            int n = Syscall.poll(fds, wait);
            if (n >= 0)
            {
                break;
            }
            var errno = Stdlib.GetLastError();
            if (errno != Mono.Unix.Native.Errno.EINTR)
            {
                throw NativeErrors.Error("poll", errno);
            }
        }
        for (int i = 0; i < fds.Length; i++)
        {
            if (fds[i].revents != 0)
            {
                ready.Add(channels[i]);
                fds[i].revents = 0;
            }
        }
        return ready;
    }

    private void Rebuild(IReadOnlyList<Channel> active)
    {
        fds = new Pollfd[active.Count];
        channels = new Channel[active.Count];
        for (int i = 0; i < active.Count; i++)
        {
            channels[i] = active[i];
            fds[i] = new Pollfd { fd = active[i].FileDescriptor, events = PollEvents.POLLIN };
        }
        dirty = false;
    }

    /// <summary>null: -1 (wait for ever); otherwise whole milliseconds, rounded up.</summary>
    internal static long ToMilliseconds(TimeSpan? timeout)
    {
        if (timeout is not { } t || t == Timeout.InfiniteTimeSpan)
        {
            return -1;
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(t, TimeSpan.Zero, nameof(timeout));
        return Math.Min(int.MaxValue, (long)Math.Ceiling(t.TotalMilliseconds));
    }
}
