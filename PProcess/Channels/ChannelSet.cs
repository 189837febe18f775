using PProcess.Native;
using PProcess.Transports;

namespace PProcess.Channels;

/// <summary>
/// The library's one readiness loop: the channels one thread waits on, each with its owner (an
/// exchange's job, a pool worker, a fork task's completion), the poll set built from them, and
/// the one wake-up (an eventfd) through which another thread or a cancelled token wakes it. <see cref="Wait"/> reads what
/// arrives without blocking (each channel assembles its frames in its inbox) and returns the
/// channels with a whole message (or a fault to raise) and those whose peer has ended: a child
/// that stops in the middle of a message holds up neither the deadline nor the other channels. A
/// wake-up that turns out stale (a shared-memory eventfd left readable after its message was
/// read, say) is never reported.
/// Used from one thread; only <see cref="Wake"/> may be called from any.
/// </summary>
/// <typeparam name="TOwner">What the caller keeps with each channel.</typeparam>
internal sealed class ChannelSet<TOwner> : IDisposable where TOwner : class
{
    private readonly List<Entry> entries = [];
    private PollFd[] fds = [];
    /// <summary>For each slot of <see cref="fds"/> before the wake-up's, the index of its entry.</summary>
    private int[] slotEntry = [];
    private bool[] buffered = [];
    private bool changed = true;
    /// <summary>How long to watch the channels' shared-memory rings before a poll (the longest of their limits); zero for sockets.</summary>
    private TimeSpan spin;
    private WakeUp? wake;

    /// <summary>A channel and its owner.</summary>
    internal readonly record struct Entry(Channel Channel, TOwner Owner);

    /// <param name="wakeable">Make the wake-up now, for a loop that other threads wake (<see cref="Wake"/>).</param>
    internal ChannelSet(bool wakeable = false) => wake = wakeable ? new WakeUp() : null;

    internal int Count => entries.Count;

    internal IReadOnlyList<Entry> Entries => entries;

    internal void Add(Channel channel, TOwner owner)
    {
        entries.Add(new Entry(channel, owner));
        changed = true;
    }

    /// <summary>Stops watching <paramref name="channel"/>; false if it was not watched.</summary>
    internal bool Remove(Channel channel)
    {
        int at = IndexOf(channel);
        if (at < 0)
        {
            return false;
        }
        entries.RemoveAt(at);
        changed = true;
        return true;
    }

    /// <summary>The owner of a watched channel, or null.</summary>
    internal TOwner? OwnerOf(Channel channel)
    {
        int at = IndexOf(channel);
        return at < 0 ? null : entries[at].Owner;
    }

    /// <summary>Wakes a <see cref="Wait"/> in progress (or the next one); from any thread. Needs a wakeable set.</summary>
    internal void Wake() => wake?.Wake();

    /// <summary>Makes <paramref name="token"/>'s cancellation wake the loop; dispose the registration when the wait is over.</summary>
    internal CancellationTokenRegistration WakeOn(CancellationToken token)
    {
        if (!token.CanBeCanceled)
        {
            return default;
        }
        if (wake is null)
        {
            wake = new WakeUp();
            changed = true;
        }
        return token.UnsafeRegister(static state => ((WakeUp)state!).Wake(), wake);
    }

    /// <summary>
    /// Waits until a channel has a message or its peer has ended, the set is woken, or
    /// <paramref name="deadline"/> passes. Fills <paramref name="ready"/> (a message can be read
    /// without blocking) and <paramref name="ended"/> (the peer closed its end and everything it
    /// sent has been read; those entries leave the set). Returns true when woken.
    /// </summary>
    internal bool Wait(Deadline deadline, List<Entry> ready, List<Entry> ended)
    {
        ready.Clear();
        ended.Clear();
        if (changed)
        {
            Rebuild();
        }
        if (entries.Count == 0 && wake is null)
        {
            // Nothing could ever become ready.
            return false;
        }
        while (true)
        {
            bool woken = Round(deadline, ready, ended);
            if (ended.Count > 0)
            {
                foreach (var entry in ended)
                {
                    entries.Remove(entry);
                }
                changed = true;
            }
            // Every wake-up was stale: wait again for the time left.
            if (woken || ready.Count > 0 || ended.Count > 0 || deadline.PollTimeout() == 0)
            {
                return woken;
            }
        }
    }

    private bool Round(Deadline deadline, List<Entry> ready, List<Entry> ended)
    {
        if (entries.Count == 1 && wake is null && deadline.IsNever && entries[0].Channel.WaitForData() is { } result)
        {
            // One socket and nothing else to watch (no deadline, no wake-up): a blocking read into
            // the channel's inbox waits for it in one system call, as the C ping-pong does,
            // instead of a poll and then a read (docs/performance.md).
            (result == ProbeResult.Data ? ready : ended).Add(entries[0]);
            return false;
        }
        bool mayBlock = deadline.PollTimeout() != 0;
        if (spin > TimeSpan.Zero && mayBlock)
        {
            // A reply over shared memory usually comes within microseconds: watch the rings
            // briefly before paying for a wake-up through the kernel.
            SharedMemoryTransport.SpinUntil(entries, AnyDataWaiting, spin);
        }
        bool anyBuffered = false;
        for (int i = 0; i < entries.Count; i++)
        {
            // Data already buffered in user space (a channel's inbox, a shared ring) is
            // invisible to poll; a shared-memory channel also asks for its wake-up here.
            buffered[i] = entries[i].Channel.ArmWakeUp();
            anyBuffered |= buffered[i];
        }
        LibC.Poll(fds, anyBuffered ? Deadline.Now : deadline);
        bool woken = false;
        if (wake is not null && fds[^1].ReturnedEvents != 0)
        {
            fds[^1].ReturnedEvents = 0;
            wake.Drain();
            woken = true;
        }
        for (int slot = 0; slot < slotEntry.Length; slot++)
        {
            if (fds[slot].ReturnedEvents != 0)
            {
                buffered[slotEntry[slot]] = true;
                fds[slot].ReturnedEvents = 0;
            }
        }
        for (int i = 0; i < entries.Count; i++)
        {
            if (!buffered[i])
            {
                continue;
            }
            // A wake-up can be stale (a shared-memory eventfd stays readable after the message it
            // announced was read): only a message or the end of the stream counts. Probe drains a
            // stale wake-up and asks for the next; a probe reads what is there into the channel's inbox,
            // and says Data only once a whole frame (or a fault) is there.
            switch (entries[i].Channel.Probe())
            {
                case ProbeResult.Data:
                    ready.Add(entries[i]);
                    break;
                case ProbeResult.EndOfStream:
                    ended.Add(entries[i]);
                    break;
            }
        }
        return woken;
    }

    private static readonly Func<List<Entry>, bool> AnyDataWaiting = entries =>
    {
        foreach (var entry in entries)
        {
            if (entry.Channel.DataWaiting)
            {
                return true;
            }
        }
        return false;
    };

    private void Rebuild()
    {
        var list = new List<PollFd>(entries.Count + 1);
        var owner = new List<int>(entries.Count);
        spin = TimeSpan.Zero;
        for (int i = 0; i < entries.Count; i++)
        {
            var channel = entries[i].Channel;
            foreach (int fd in channel.PollDescriptors)
            {
                list.Add(PollFd.ForInput(fd));
                owner.Add(i);
            }
            if (channel.SpinLimit > spin)
            {
                spin = channel.SpinLimit;
            }
        }
        if (wake is not null)
        {
            list.Add(PollFd.ForInput(wake.PollDescriptor));
        }
        fds = [.. list];
        slotEntry = [.. owner];
        buffered = new bool[entries.Count];
        changed = false;
    }

    private int IndexOf(Channel channel)
    {
        for (int i = 0; i < entries.Count; i++)
        {
            if (ReferenceEquals(entries[i].Channel, channel))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Releases the wake-up; the channels are the owners' to close.</summary>
    public void Dispose() => wake?.Dispose();
}
