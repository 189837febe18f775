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
    private int wakeFd = -1;

    /// <summary>Marks the set as changed; it is rebuilt before the next poll.</summary>
    internal void Invalidate() => dirty = true;

    /// <summary>
    /// Waits until at least one channel is readable or hung up, or <paramref name="wakeFd"/> (if
    /// not -1) is readable, or the timeout passes (null: no timeout). Returns those channels.
    /// </summary>
    internal List<Channel> Poll(IReadOnlyList<Channel> active, TimeSpan? timeout, int wakeFd)
    {
        if (dirty || wakeFd != this.wakeFd)
        {
            this.wakeFd = wakeFd;
            Rebuild(active);
        }
        var ready = new List<Channel>();
        if (channels.Length == 0)
        {
            // Nothing to wait for: a wake descriptor alone would block for the whole timeout.
            return ready;
        }
        Wait(fds, timeout);
        for (int i = 0; i < channels.Length; i++)
        {
            if (fds[i].revents != 0)
            {
                ready.Add(channels[i]);
                fds[i].revents = 0;
            }
        }
        if (fds.Length > channels.Length)
        {
            fds[^1].revents = 0;
        }
        return ready;
    }

    private void Rebuild(IReadOnlyList<Channel> active)
    {
        fds = new Pollfd[active.Count + (wakeFd >= 0 ? 1 : 0)];
        channels = new Channel[active.Count];
        for (int i = 0; i < active.Count; i++)
        {
            channels[i] = active[i];
            fds[i] = new Pollfd { fd = active[i].FileDescriptor, events = PollEvents.POLLIN };
        }
        if (wakeFd >= 0)
        {
            fds[^1] = new Pollfd { fd = wakeFd, events = PollEvents.POLLIN };
        }
        dirty = false;
    }

    /// <summary>
    /// poll(2) over <paramref name="fds"/>, retrying EINTR against the time left; returns the
    /// number of ready descriptors (0 at the timeout).
    /// </summary>
    internal static int Wait(Pollfd[] fds, TimeSpan? timeout)
    {
        long budget = ToMilliseconds(timeout);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            int wait = budget < 0 ? -1 : (int)Math.Max(0, budget - clock.ElapsedMilliseconds);
            int n = Syscall.poll(fds, wait);
            if (n >= 0)
            {
                return n;
            }
            var errno = Stdlib.GetLastError();
            if (errno != Mono.Unix.Native.Errno.EINTR)
            {
                throw NativeErrors.Error("poll", errno);
            }
            Interlocked.Increment(ref interruptions);
        }
    }

    private static long interruptions;

    /// <summary>How many times a poll of this process returned EINTR and was retried (for tests).</summary>
    internal static long Interruptions => Interlocked.Read(ref interruptions);

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
