using PProcess.Native;
using PProcess.Runtime;

namespace PProcess.Transports;

/// <summary>
/// One end of a shared-memory channel (docs/channels.md). The parent maps one region with
/// <c>mmap(MAP_SHARED | MAP_ANONYMOUS)</c> before the fork (not MemoryMappedFile, whose views
/// are not inherited: docs/fork-safety.md, rule 12) and holds two <see cref="SharedRing"/>s in
/// it, one per direction. Each ring has two eventfds: "data" (woken by its producer, polled by its
/// consumer) and "space" (woken by its consumer, polled by a producer that found the ring full).
/// A side rings only when the other has flagged that it waits. A socketpair kept alongside carries
/// no data: it becomes readable when the peer closes its end or dies, which is how a reader sees
/// the end of the stream, and a blocked writer sees that nobody will drain the ring.
/// Bytes written before the writer dies stay readable, as in a socket: the region stays mapped
/// in the reader.
/// The peer shares the memory, so it can write anything there: each end keeps its own position (a
/// producer's Head, a consumer's Tail) in a field and only publishes it to the ring, and bounds the
/// peer's position before using it (0 &lt;= Head - Tail &lt;= capacity); a peer that breaks this
/// raises <see cref="ChannelProtocolException"/> instead of a copy outside the ring or a spin.
/// </summary>
internal sealed unsafe class SharedMemoryTransport : IChannelTransport
{
    /// <summary>
    /// Spins until <paramref name="ready"/> holds or <paramref name="spinLimit"/> passes; true if it holds.
    /// A reader (or a writer facing a full ring) watches the ring so before it asks for an eventfd
    /// wake-up and blocks in poll: a wake-up through the kernel costs microseconds, and a short reply
    /// usually arrives sooner (ChannelOptions.SpinLimit).
    /// </summary>
    internal static bool SpinUntil<TState>(TState state, Func<TState, bool> ready, TimeSpan spinLimit)
    {
        if (spinLimit <= TimeSpan.Zero)
        {
            return false;
        }
        var deadline = Deadline.After(spinLimit);
        for (int i = 0; ; i++)
        {
            if (ready(state))
            {
                return true;
            }
            // A few pauses first (the peer may be running on the other core), then yields (it may be
            // waiting for this core: on a loaded machine, pausing alone made round trips slower).
            if (i < 32)
            {
                Thread.SpinWait(1);
            }
            else
            {
                Thread.Yield();
            }
            if ((i & 7) == 7 && deadline.HasPassed)
            {
                return ready(state);
            }
        }
    }

    private static readonly Func<SharedMemoryTransport, bool> HasDataOrGone = t => t.HasData() || t.peerGone;
    // A broken position counts as space: the write that follows looks, and raises the fault.
    private static readonly Func<SharedMemoryTransport, bool> HasSpace = t => t.txHead - Volatile.Read(ref t.tx.Tail) != t.tx.Capacity;

    private readonly SafeMapping mapping;
    private readonly SharedRing tx;
    private readonly SharedRing rx;
    private readonly int txData;
    private readonly int txSpace;
    private readonly int rxData;
    private readonly int rxSpace;
    private readonly int liveness;
    /// <summary>This end's eventfds and liveness socket, closed when the last user leaves.</summary>
    private readonly SafeDescriptor[] owned;
    private readonly PollFd[] dataWait;
    private readonly PollFd[] spaceWait;
    private bool peerGone;
    private int disposed;
    /// <summary>This end's own positions: the Head of the ring it writes, the Tail of the ring it reads. The copies in the ring are for the peer only.</summary>
    private long txHead;
    private long rxTail;

    /// <summary>1 for this end while it is open, plus one per call in progress: the last to leave releases the end.</summary>
    private int users = 1;

    private SharedMemoryTransport(SafeMapping mapping, long capacity, TimeSpan spinLimit, bool parentSide, int[] wakeUps, int liveness)
    {
        SpinLimit = spinLimit;
        bool added = false;
        mapping.DangerousAddRef(ref added);
        this.mapping = mapping;
        nint region = mapping.Address;
        this.liveness = liveness;
        var toChild = new SharedRing((byte*)region, capacity);
        var toParent = new SharedRing((byte*)region + SharedRing.HeaderSize + capacity, capacity);
        // wakeUps: [toChild data, toChild space, toParent data, toParent space]
        (tx, rx) = parentSide ? (toChild, toParent) : (toParent, toChild);
        // Trusted once, before the peer runs: zero in a new region.
        (txHead, rxTail) = (tx.Head, rx.Tail);
        (txData, txSpace, rxData, rxSpace) = parentSide
            ? (wakeUps[0], wakeUps[1], wakeUps[2], wakeUps[3])
            : (wakeUps[2], wakeUps[3], wakeUps[0], wakeUps[1]);
        Descriptors = [.. wakeUps, liveness];
        owned = Array.ConvertAll(Descriptors, fd => new SafeDescriptor(fd));
        PollDescriptors = [rxData, liveness];
        dataWait = [PollFd.ForInput(rxData), PollFd.ForInput(liveness)];
        spaceWait = [PollFd.ForInput(txSpace), PollFd.ForInput(liveness)];
        // Only this end's own child inherits the region: siblings forked later do not.
        LibC.Advise(region, mapping.Length, LibC.MADV_DONTFORK);
    }

    public int[] PollDescriptors { get; }

    public TimeSpan SpinLimit { get; }

    public int[] Descriptors { get; }

    public bool DataWaiting => Volatile.Read(ref disposed) == 0 && HasData();

    public bool WaitsByReading => false;

    public bool ArmWakeUp()
    {
        Enter();
        try
        {
            return ArmWakeUpCore();
        }
        finally
        {
            Leave();
        }
    }

    public int Read(Span<byte> buffer)
    {
        Enter();
        try
        {
            return ReadCore(buffer);
        }
        finally
        {
            Leave();
        }
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        Enter();
        try
        {
            WriteCore(data);
        }
        finally
        {
            Leave();
        }
    }

    public int TryRead(Span<byte> buffer)
    {
        Enter();
        try
        {
            return TryReadCore(buffer);
        }
        finally
        {
            Leave();
        }
    }

    /// <summary>
    /// Closes this end: the peer's writes fail from now on. The descriptors are closed and the
    /// region released once no call of another thread is still inside this end (the memory must
    /// not be unmapped under a reader).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }
        Volatile.Write(ref rx.ReaderClosed, 1);
        // A thread of this process blocked in a read or write of this end would otherwise wait for
        // ever (nothing else wakes its eventfds), and keep the liveness socket open, so that the
        // peer never saw the hang-up either: wake both of this end's eventfds; the loops then see
        // the end disposed.
        LibC.Wake(rxData);
        LibC.Wake(txSpace);
        Leave();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);

    private void Enter()
    {
        while (true)
        {
            int now = Volatile.Read(ref users);
            if (now == 0 || Volatile.Read(ref disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(SharedMemoryTransport), "This end of the shared-memory channel is closed.");
            }
            if (Interlocked.CompareExchange(ref users, now + 1, now) == now)
            {
                return;
            }
        }
    }

    private void Leave()
    {
        if (Interlocked.Decrement(ref users) == 0)
        {
            foreach (var descriptor in owned)
            {
                descriptor.Dispose();
            }
            mapping.DangerousRelease();
        }
    }

    private bool ArmWakeUpCore()
    {
        if (HasData() || peerGone)
        {
            return true;
        }
        Interlocked.Exchange(ref rx.ReaderWaiting, 1);
        return HasData();
    }

    private int ReadCore(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        while (true)
        {
            ThrowIfDisposed();
            if (Take(buffer) is > 0 and var n)
            {
                return n;
            }
            if (peerGone)
            {
                // The peer hung up after its last write: one more look, then the end.
                if (HasData())
                {
                    continue;
                }
                return 0;
            }
            if (SpinUntil(this, HasDataOrGone, SpinLimit))
            {
                continue;
            }
            Interlocked.Exchange(ref rx.ReaderWaiting, 1);
            if (HasData())
            {
                continue;
            }
            Block(dataWait, rxData);
        }
    }

    /// <summary>Copies out what the ring holds, up to the buffer's size, and frees its space; 0 if it is empty.</summary>
    private int Take(Span<byte> buffer)
    {
        long tail = rxTail;
        long available = Available();
        if (available == 0)
        {
            return 0;
        }
        int n = (int)Math.Min(available, buffer.Length);
        rx.CopyOut(tail, buffer[..n]);
        rxTail = tail + n;
        Publish(ref rx.Tail, rxTail, ref rx.WriterWaiting, rxSpace);
        return n;
    }

    /// <summary>The bytes waiting in the incoming ring: the peer's Head, bounded by this end's Tail and the capacity.</summary>
    private long Available() => Used(Volatile.Read(ref rx.Head), rxTail, rx.Capacity, peersHead: true);

    /// <summary>The free bytes of the outgoing ring: the peer's Tail, bounded by this end's Head and the capacity.</summary>
    private long Free() => tx.Capacity - Used(txHead, Volatile.Read(ref tx.Tail), tx.Capacity, peersHead: false);

    /// <summary>Head - Tail of a ring, one of them written by the peer: from 0 to the capacity, or the peer broke the protocol.</summary>
    private static long Used(long head, long tail, long capacity, bool peersHead)
    {
        long used = head - tail;
        if ((ulong)used > (ulong)capacity)
        {
            throw new ChannelProtocolException(
                $"the peer set the shared-memory ring's {(peersHead ? $"Head to {head}, with the Tail at {tail}" : $"Tail to {tail}, with the Head at {head}")} " +
                $"in a ring of {capacity} bytes ({(used < 0 ? "the Head behind the Tail" : "more than the ring holds")})");
        }
        return used;
    }

    /// <summary>
    /// Without blocking: what <see cref="ReadCore"/> would return, or -1 when the ring is empty and
    /// the peer is there (a wake-up is then asked for, and a stale one drained).
    /// </summary>
    private int TryReadCore(Span<byte> buffer)
    {
        ThrowIfDisposed();
        if (buffer.IsEmpty)
        {
            return -1;
        }
        if (Take(buffer) is > 0 and var n)
        {
            return n;
        }
        if (!peerGone)
        {
            // A wake-up was consumed, or this was a stale one: ask for the next, then look again.
            LibC.Drain(rxData);
            Interlocked.Exchange(ref rx.ReaderWaiting, 1);
            if (Take(buffer) is > 0 and var m)
            {
                return m;
            }
            if (!PeerHungUp())
            {
                return -1;
            }
            peerGone = true;
        }
        // The peer hung up after its last write: one more look, then the end.
        return Take(buffer);
    }

    private void WriteCore(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            ThrowIfDisposed();
            if (Volatile.Read(ref tx.ReaderClosed) != 0)
            {
                throw PeerClosed();
            }
            long head = txHead;
            long free = Free();
            if (free == 0)
            {
                if (peerGone)
                {
                    throw PeerClosed();
                }
                if (SpinUntil(this, HasSpace, SpinLimit))
                {
                    continue;
                }
                Interlocked.Exchange(ref tx.WriterWaiting, 1);
                if (Free() == 0)
                {
                    Block(spaceWait, txSpace);
                }
                continue;
            }
            int n = (int)Math.Min(free, data.Length);
            tx.CopyIn(head, data[..n]);
            txHead = head + n;
            Publish(ref tx.Head, txHead, ref tx.ReaderWaiting, txData);
            data = data[n..];
        }
    }


    /// <summary>
    /// Moves this side's position (a producer's head, a consumer's tail) on, then rings the other
    /// side if it has flagged that it waits: the full fence between them is what makes a lost
    /// wake-up impossible (see <see cref="SharedRing"/>).
    /// </summary>
    private static void Publish(ref long position, long value, ref int otherWaiting, int wakeUp)
    {
        Volatile.Write(ref position, value);
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref otherWaiting) != 0 && Interlocked.Exchange(ref otherWaiting, 0) != 0)
        {
            LibC.Wake(wakeUp);
        }
    }

    /// <summary>True when the peer's Head differs from this end's Tail: data, or a broken Head that the read then reports.</summary>
    private bool HasData() => Volatile.Read(ref rx.Head) != rxTail;

    /// <summary>Polls the wake-up and the peer's liveness; notes a hang-up, and drains the wake-up.</summary>
    private void Block(PollFd[] fds, int wakeUp)
    {
        fds[0].ReturnedEvents = 0;
        fds[1].ReturnedEvents = 0;
        LibC.Poll(fds, Deadline.Never);
        if (fds[1].ReturnedEvents != 0)
        {
            peerGone = true;
        }
        if (fds[0].ReturnedEvents != 0)
        {
            LibC.Drain(wakeUp);
        }
    }

    /// <summary>True once the liveness socket shows the peer's end closed (it carries no data).</summary>
    private bool PeerHungUp()
    {
        byte b;
        return LibC.Receive(liveness, &b, 1, LibC.MSG_PEEK | LibC.MSG_DONTWAIT) >= 0 || LibC.LastError != Errno.EAGAIN;
    }

    private static IOException PeerClosed() =>
        new("The other end of the channel is closed (EPIPE): the peer process has ended or closed it.", Errno.EPIPE);

    /// <summary>The region, four eventfds and the liveness socketpair, made before the fork.</summary>
    internal sealed class Ends : ChannelEnds
    {
        private readonly SafeMapping mapping;
        private readonly long capacity;
        private readonly TimeSpan spinLimit;
        private readonly int[] wakeUps = [-1, -1, -1, -1];
        private readonly int parentLiveness;
        private readonly int childLiveness;

        /// <param name="ringCapacity">Each ring's capacity: a power of two of at least 4096 bytes.</param>
        /// <param name="spinLimit">How long a reader or writer watches a ring before it blocks.</param>
        internal Ends(long ringCapacity = 1 << 20, TimeSpan? spinLimit = null)
        {
            capacity = ringCapacity;
            this.spinLimit = spinLimit ?? TimeSpan.FromMicroseconds(50);
            if (capacity < 4096 || (capacity & (capacity - 1)) != 0)
            {
                throw new InvalidOperationException($"The ring capacity must be a power of two of at least 4096 bytes, not {capacity}.");
            }
            long bytes = 2 * (SharedRing.HeaderSize + capacity);
            var length = (nuint)((bytes + 4095) & ~4095L);
            mapping = SafeMapping.Create(length) ?? throw Shortage("mmap of a shared-memory channel", LibC.LastError);
            try
            {
                for (int i = 0; i < wakeUps.Length; i++)
                {
                    wakeUps[i] = LibC.EventFd();
                    if (wakeUps[i] < 0)
                    {
                        throw Shortage("eventfd", LibC.LastError);
                    }
                }
                (parentLiveness, childLiveness) = SocketTransport.CreatePair();
            }
            catch (Exception)
            {
                CloseWakeUps();
                mapping.Dispose();
                throw;
            }
        }

        internal override int[] Descriptors => [.. wakeUps, parentLiveness, childLiveness];

        internal override IChannelTransport Parent()
        {
            DescriptorRegistry.Close(childLiveness);
            return Take(new SharedMemoryTransport(mapping, capacity, spinLimit, parentSide: true, wakeUps, parentLiveness));
        }

        internal override IChannelTransport Child()
        {
            DescriptorRegistry.Close(parentLiveness);
            return Take(new SharedMemoryTransport(mapping, capacity, spinLimit, parentSide: false, wakeUps, childLiveness));
        }

        /// <summary>The end now holds the region: the maker's own reference goes.</summary>
        private IChannelTransport Take(SharedMemoryTransport end)
        {
            mapping.Dispose();
            return end;
        }

        /// <summary>
        /// Both ends in this process (to run the channel's code once before forking, and for tests):
        /// the child's end gets its own copies of the eventfds, and the region is unmapped when both are closed.
        /// </summary>
        internal (IChannelTransport Parent, IChannelTransport Child) Loopback()
        {
            int[] copies = [.. wakeUps.Select(LibC.Dup)];
            var ends = (new SharedMemoryTransport(mapping, capacity, spinLimit, parentSide: true, wakeUps, parentLiveness),
                new SharedMemoryTransport(mapping, capacity, spinLimit, parentSide: false, copies, childLiveness));
            mapping.Dispose();
            return ends;
        }

        internal override void Abandon()
        {
            CloseWakeUps();
            DescriptorRegistry.Close(parentLiveness);
            DescriptorRegistry.Close(childLiveness);
            mapping.Dispose();
        }

        private void CloseWakeUps()
        {
            foreach (var fd in wakeUps)
            {
                if (fd >= 0)
                {
                    DescriptorRegistry.Close(fd);
                }
            }
        }

        private static ForkException Shortage(string call, int errno) =>
            new($"{call} failed: {Errno.Name(errno)}{(errno == Errno.EAGAIN ? "" : Errno.ShortageHint(errno))}", errno);
    }
}
