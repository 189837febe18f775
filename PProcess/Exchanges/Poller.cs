using System.Diagnostics;
using Mono.Unix.Native;
using PProcess.Native;

namespace PProcess.Exchanges;

/// <summary>libc poll over a set of channels, with EINTR retried against the remaining timeout.</summary>
internal sealed class Poller
{
    private Pollfd[] fds = [];
    private Channel[] channels = [];
    /// <summary>For each entry of <see cref="fds"/> before the wake descriptor, the index of its channel.</summary>
    private int[] owners = [];
    /// <summary>Whether any channel is over shared memory, whose ring is worth watching briefly before a poll.</summary>
    private bool spinning;
    private bool dirty = true;
    private int wakeFd = -1;

    /// <summary>Marks the set as changed; it is rebuilt before the next poll.</summary>
    internal void Invalidate() => dirty = true;

    /// <summary>
    /// Waits until at least one channel is readable or hung up, or <paramref name="wakeFd"/> (if
    /// not -1) is readable, or the timeout passes (null: no timeout). Returns those channels.
    /// Each channel is asked first whether data is already buffered for it (and a shared-memory
    /// channel to arm its wake-up); one that has data makes the poll a mere look (timeout zero).
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
        bool[]? already = null;
        if (spinning && timeout != TimeSpan.Zero)
        {
            // A reply over shared memory usually comes within microseconds: watch the rings
            // briefly before paying for a wake-up through the kernel.
            Transports.SharedMemoryTransport.SpinUntil(channels, AnyDataWaiting);
        }
        for (int i = 0; i < channels.Length; i++)
        {
            // Data already buffered in user space (a socket's read buffer, a shared ring) is
            // invisible to poll; a shared-memory channel also asks for its wake-up here.
            if (channels[i].ArmWakeUp())
            {
                already ??= new bool[channels.Length];
                already[i] = true;
            }
        }
        Wait(fds, already is null ? timeout : TimeSpan.Zero);
        for (int i = 0; i < owners.Length; i++)
        {
            // A channel's descriptors are adjacent: add it once.
            int owner = owners[i];
            if ((fds[i].revents != 0 || already?[owner] == true) && (ready.Count == 0 || !ReferenceEquals(ready[^1], channels[owner])))
            {
                ready.Add(channels[owner]);
            }
            fds[i].revents = 0;
        }
        if (fds.Length > owners.Length)
        {
            fds[^1].revents = 0;
        }
        // A shared-memory channel's eventfd can stay readable after the message it announced was
        // read (a stale wake-up), so its readiness is checked: a caller that read it would block
        // on a peer that owes nothing (measured: a worker pool's Map hung so, 3 runs of 3).
        // Probe drains the stale wake-up and arms the next one. Sockets have no such case.
        ready.RemoveAll(channel => channel.HangUpDescriptor >= 0 && channel.Probe() == Transports.ProbeResult.Empty);
        return ready;
    }

    private static readonly Func<Channel[], bool> AnyDataWaiting = channels =>
    {
        foreach (var channel in channels)
        {
            if (channel.DataWaiting)
            {
                return true;
            }
        }
        return false;
    };

    private void Rebuild(IReadOnlyList<Channel> active)
    {
        var list = new List<Pollfd>(active.Count + 1);
        var owner = new List<int>(active.Count);
        channels = new Channel[active.Count];
        spinning = false;
        for (int i = 0; i < active.Count; i++)
        {
            channels[i] = active[i];
            list.Add(new Pollfd { fd = active[i].FileDescriptor, events = PollEvents.POLLIN });
            owner.Add(i);
            if (active[i].HangUpDescriptor is int hangUp and >= 0)
            {
                list.Add(new Pollfd { fd = hangUp, events = PollEvents.POLLIN });
                owner.Add(i);
                spinning = true;
            }
        }
        if (wakeFd >= 0)
        {
            list.Add(new Pollfd { fd = wakeFd, events = PollEvents.POLLIN });
        }
        fds = list.ToArray();
        owners = owner.ToArray();
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
