using Mono.Unix.Native;
using PProcess.Native;

namespace PProcess.Transports;

/// <summary>
/// One end of a shared-memory channel (docs/channels.md). The parent maps one region with
/// <c>mmap(MAP_SHARED | MAP_ANONYMOUS)</c> before the fork (not MemoryMappedFile, whose views
/// are not inherited: docs/fork-safety.md, rule 12) and holds two <see cref="SharedRing"/>s in
/// it, one per direction. Each ring has two eventfds: "data" (rung by its producer, polled by its
/// consumer) and "space" (rung by its consumer, polled by a producer that found the ring full).
/// A side rings only when the other has flagged that it waits. A socketpair kept alongside carries
/// no data: it becomes readable when the peer closes its end or dies, which is how a reader sees
/// the end of the stream, and a blocked writer sees that nobody will drain the ring.
/// Bytes written before the writer dies stay readable, as in a socket: the region stays mapped
/// in the reader.
/// </summary>
internal sealed unsafe class SharedMemoryTransport : IChannelTransport
{
    /// <summary>The capacity of each ring: a power of two.</summary>
    internal static int RingCapacity { get; set; } = 1 << 20;

    /// <summary>
    /// How long a reader (or a writer facing a full ring) spins, watching the ring, before it asks for
    /// an eventfd wake-up and blocks in poll: a wake-up through the kernel costs microseconds, and a
    /// short reply usually arrives sooner (docs/performance.md). Zero: never spin.
    /// </summary>
    internal static TimeSpan SpinLimit { get; set; } = TimeSpan.FromMicroseconds(50);

    /// <summary>Spins until <paramref name="ready"/> holds or <see cref="SpinLimit"/> passes; true if it holds.</summary>
    internal static bool SpinUntil<TState>(TState state, Func<TState, bool> ready)
    {
        long limit = (long)(SpinLimit.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
        if (limit <= 0)
        {
            return false;
        }
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
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
            if ((i & 7) == 7 && System.Diagnostics.Stopwatch.GetTimestamp() - start > limit)
            {
                return ready(state);
            }
        }
    }

    private static readonly Func<SharedMemoryTransport, bool> HasDataOrGone = t => t.HasData() || t.peerGone;
    private static readonly Func<SharedMemoryTransport, bool> HasSpace = t => t.tx.Capacity - (t.tx.Head - Volatile.Read(ref t.tx.Tail)) > 0;

    private readonly Mapping mapping;
    private readonly SharedRing tx;
    private readonly SharedRing rx;
    private readonly int txData;
    private readonly int txSpace;
    private readonly int rxData;
    private readonly int rxSpace;
    private readonly int liveness;
    private readonly Pollfd[] dataWait;
    private readonly Pollfd[] spaceWait;
    private bool peerGone;
    private int disposed;

    /// <summary>1 for this end while it is open, plus one per call in progress: the last to leave releases the end.</summary>
    private int users = 1;

    private SharedMemoryTransport(Mapping mapping, long capacity, bool parentSide, int[] bells, int liveness)
    {
        this.mapping = mapping;
        nint region = mapping.Address;
        this.liveness = liveness;
        var toChild = new SharedRing((byte*)region, capacity);
        var toParent = new SharedRing((byte*)region + SharedRing.HeaderSize + capacity, capacity);
        // bells: [toChild data, toChild space, toParent data, toParent space]
        (tx, rx) = parentSide ? (toChild, toParent) : (toParent, toChild);
        (txData, txSpace, rxData, rxSpace) = parentSide
            ? (bells[0], bells[1], bells[2], bells[3])
            : (bells[2], bells[3], bells[0], bells[1]);
        Descriptors = [.. bells, liveness];
        dataWait = [new Pollfd { fd = rxData, events = PollEvents.POLLIN }, new Pollfd { fd = liveness, events = PollEvents.POLLIN }];
        spaceWait = [new Pollfd { fd = txSpace, events = PollEvents.POLLIN }, new Pollfd { fd = liveness, events = PollEvents.POLLIN }];
        // Only this end's own child inherits the region: siblings forked later do not.
        LibC.Madvise(region, mapping.Length, LibC.MADV_DONTFORK);
    }

    public int PollDescriptor => rxData;

    public int HangUpDescriptor => liveness;

    public int[] Descriptors { get; }

    public bool DataWaiting => Volatile.Read(ref disposed) == 0 && HasData();

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

    public ProbeResult Probe()
    {
        Enter();
        try
        {
            return ProbeCore();
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
        // peer never saw the hang-up either: ring both of this end's bells; the loops then see
        // the end disposed.
        Ring(rxData);
        Ring(txSpace);
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
            foreach (var fd in Descriptors)
            {
                Syscall.close(fd);
            }
            mapping.Release();
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
            long tail = rx.Tail;
            long available = Volatile.Read(ref rx.Head) - tail;
            if (available > 0)
            {
                int n = (int)Math.Min(available, buffer.Length);
                rx.CopyOut(tail, buffer[..n]);
                Volatile.Write(ref rx.Tail, tail + n);
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref rx.WriterWaiting) != 0 && Interlocked.Exchange(ref rx.WriterWaiting, 0) != 0)
                {
                    Ring(rxSpace);
                }
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
            if (SpinUntil(this, HasDataOrGone))
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

    private void WriteCore(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            ThrowIfDisposed();
            if (Volatile.Read(ref tx.ReaderClosed) != 0)
            {
                throw PeerClosed();
            }
            long head = tx.Head;
            long free = tx.Capacity - (head - Volatile.Read(ref tx.Tail));
            if (free == 0)
            {
                if (peerGone)
                {
                    throw PeerClosed();
                }
                if (SpinUntil(this, HasSpace))
                {
                    continue;
                }
                Interlocked.Exchange(ref tx.WriterWaiting, 1);
                if (tx.Capacity - (head - Volatile.Read(ref tx.Tail)) == 0)
                {
                    Block(spaceWait, txSpace);
                }
                continue;
            }
            int n = (int)Math.Min(free, data.Length);
            tx.CopyIn(head, data[..n]);
            Volatile.Write(ref tx.Head, head + n);
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref tx.ReaderWaiting) != 0 && Interlocked.Exchange(ref tx.ReaderWaiting, 0) != 0)
            {
                Ring(txData);
            }
            data = data[n..];
        }
    }

    private ProbeResult ProbeCore()
    {
        if (HasData())
        {
            return ProbeResult.Data;
        }
        if (peerGone)
        {
            // Known ended: no wake-up to drain or ask for.
            return HasData() ? ProbeResult.Data : ProbeResult.EndOfStream;
        }
        // A wake-up was consumed, or this was a stale one: ask for the next, then look again.
        Drain(rxData);
        Interlocked.Exchange(ref rx.ReaderWaiting, 1);
        if (HasData())
        {
            return ProbeResult.Data;
        }
        if (peerGone || PeerHungUp())
        {
            peerGone = true;
            return HasData() ? ProbeResult.Data : ProbeResult.EndOfStream;
        }
        return ProbeResult.Empty;
    }

    private bool HasData() => Volatile.Read(ref rx.Head) != rx.Tail;

    /// <summary>Polls the wake-up and the peer's liveness; notes a hang-up, and drains the wake-up.</summary>
    private void Block(Pollfd[] fds, int bell)
    {
        fds[0].revents = 0;
        fds[1].revents = 0;
        Exchanges.Poller.Wait(fds, null);
        if (fds[1].revents != 0)
        {
            peerGone = true;
        }
        if (fds[0].revents != 0)
        {
            Drain(bell);
        }
    }

    private static void Ring(int bell)
    {
        ulong one = 1;
        while (Syscall.write(bell, &one, sizeof(ulong)) < 0 && Stdlib.GetLastError() == Errno.EINTR)
        {
        }
    }

    private static void Drain(int bell)
    {
        ulong count;
        while (Syscall.read(bell, &count, sizeof(ulong)) < 0 && Stdlib.GetLastError() == Errno.EINTR)
        {
        }
    }

    /// <summary>True once the liveness socket shows the peer's end closed (it carries no data).</summary>
    private bool PeerHungUp()
    {
        byte b;
        while (true)
        {
            long n = Syscall.recv(liveness, &b, 1, MessageFlags.MSG_PEEK | MessageFlags.MSG_DONTWAIT);
            if (n >= 0)
            {
                return true;
            }
            var errno = Stdlib.GetLastError();
            if (errno == Errno.EINTR)
            {
                continue;
            }
            return errno != Errno.EAGAIN;
        }
    }

    private static IOException PeerClosed() =>
        new("The other end of the channel is closed (EPIPE): the peer process has ended or closed it.", (int)NativeConvert.FromErrno(Errno.EPIPE));

    /// <summary>The region, four eventfds and the liveness socketpair, made before the fork.</summary>
    internal sealed class Ends : ChannelEnds
    {
        private readonly Mapping mapping;
        private readonly long capacity;
        private readonly int[] bells = [-1, -1, -1, -1];
        private readonly int parentLiveness;
        private readonly int childLiveness;

        /// <param name="ringCapacity">Each ring's capacity; by default <see cref="RingCapacity"/>.</param>
        internal Ends(long? ringCapacity = null)
        {
            capacity = ringCapacity ?? RingCapacity;
            if (capacity < 4096 || (capacity & (capacity - 1)) != 0)
            {
                throw new InvalidOperationException($"The ring capacity must be a power of two of at least 4096 bytes, not {capacity}.");
            }
            long bytes = 2 * (SharedRing.HeaderSize + capacity);
            var length = (nuint)((bytes + 4095) & ~4095L);
            var region = LibC.Mmap(0, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED | LibC.MAP_ANONYMOUS, -1, 0);
            if (region == LibC.MAP_FAILED)
            {
                throw Shortage("mmap of a shared-memory channel", NativeErrors.FromLastPInvoke());
            }
            mapping = new Mapping(region, length);
            try
            {
                for (int i = 0; i < bells.Length; i++)
                {
                    bells[i] = LibC.EventFd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
                    if (bells[i] < 0)
                    {
                        throw Shortage("eventfd", NativeErrors.FromLastPInvoke());
                    }
                }
                (parentLiveness, childLiveness) = SocketTransport.CreatePair();
            }
            catch (Exception)
            {
                CloseBells();
                mapping.Release();
                throw;
            }
        }

        internal override IChannelTransport Parent()
        {
            Syscall.close(childLiveness);
            return new SharedMemoryTransport(mapping, capacity, parentSide: true, bells, parentLiveness);
        }

        internal override IChannelTransport Child()
        {
            Syscall.close(parentLiveness);
            return new SharedMemoryTransport(mapping, capacity, parentSide: false, bells, childLiveness);
        }

        /// <summary>
        /// Both ends in this process (to run the channel's code once before forking, and for tests):
        /// the child's end gets its own copies of the eventfds, and the region is unmapped when both are closed.
        /// </summary>
        internal (IChannelTransport Parent, IChannelTransport Child) Loopback()
        {
            int[] copies = [.. bells.Select(fd => Syscall.dup(fd))];
            mapping.AddReference();
            return (new SharedMemoryTransport(mapping, capacity, parentSide: true, bells, parentLiveness),
                new SharedMemoryTransport(mapping, capacity, parentSide: false, copies, childLiveness));
        }

        internal override void Abandon()
        {
            CloseBells();
            Syscall.close(parentLiveness);
            Syscall.close(childLiveness);
            mapping.Release();
        }

        private void CloseBells()
        {
            foreach (var fd in bells)
            {
                if (fd >= 0)
                {
                    Syscall.close(fd);
                }
            }
        }

        private static ForkException Shortage(string call, Errno errno) =>
            new($"{call} failed: {errno}{(errno is Errno.EMFILE or Errno.ENFILE ? " (too many open files)" : errno == Errno.ENOMEM ? " (out of memory)" : "")}",
                (int)NativeConvert.FromErrno(errno));
    }

    /// <summary>The mapped region, unmapped when the last end of this process that uses it is released.</summary>
    private sealed class Mapping(nint address, nuint length)
    {
        private int references = 1;

        internal nint Address { get; } = address;

        internal nuint Length { get; } = length;

        internal void AddReference() => Interlocked.Increment(ref references);

        internal void Release()
        {
            if (Interlocked.Decrement(ref references) == 0)
            {
                LibC.Munmap(Address, Length);
            }
        }
    }
}
