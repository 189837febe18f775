using System.Buffers;
using System.Text.Json;
using PProcess.Channels;
using PProcess.Native;
using PProcess.Processes;
using PProcess.Runtime;
using PProcess.Serialization;
using PProcess.Transports;
using PProcess.Errors;

namespace PProcess;

/// <summary>
/// One end of a two-way link between a parent and one child process (or a persistent peer):
/// framed messages over a socketpair or shared memory (<see cref="ChannelTransportKind"/>), the
/// serializer both ends use, and whether the stream is still in step. The child process itself
/// (reaping, killing, how it ended) is a <see cref="Processes.ChildProcess"/> the parent's end holds.
/// In the parent, <see cref="Pid"/> is the child's pid; in the child it is 0.
/// A channel is not thread-safe: one thread at a time sends, one receives.
/// </summary>
public sealed class Channel : IDisposable
{
    private const int CoalesceLimit = 64 * 1024;

    private readonly IChannelTransport transport;
    private readonly int ownerPid;
    private readonly Inbox inbox;
    private bool closed;
    private string? fault;
    /// <summary>The transport reported the end of the stream.</summary>
    private bool ended;

    /// <param name="transport">The bytes' way.</param>
    /// <param name="child">In the parent, the child at the other end; null in the child, and for a persistent peer.</param>
    /// <param name="job">The job, for messages.</param>
    /// <param name="serializer">The serializer both ends use.</param>
    /// <param name="toParent">True for a child's end, which leads to its parent.</param>
    /// <param name="exitGrace">How long a child that closed its end may take to exit; see <see cref="ChannelOptions.ExitGrace"/>.</param>
    /// <param name="maxMessageSize">The largest payload sent or received; see <see cref="ChannelOptions.MaxMessageSize"/>.</param>
    internal Channel(IChannelTransport transport, ChildProcess? child, string? job, IChannelSerializer serializer, bool toParent = false,
        TimeSpan? exitGrace = null, long maxMessageSize = ChannelOptions.DefaultMaxMessageSize)
    {
        this.transport = transport;
        MaxMessageSize = maxMessageSize;
        inbox = new Inbox(maxMessageSize, RemoteError.MaxFrame, serializer as IArrayDestinations);
        ExitGrace = exitGrace ?? TimeSpan.FromSeconds(5);
        Child = child;
        Job = job;
        Serializer = serializer;
        IsChild = toParent;
        ownerPid = ProcessIdentity.Current;
    }

    /// <summary>The child's process id, in the parent; 0 in the child (and for a persistent peer, which is not a child).</summary>
    public int Pid => Child?.Pid ?? 0;

    /// <summary>True in the child process, whose channel leads to its parent.</summary>
    public bool IsChild { get; }

    /// <summary>The child process at the other end, in its parent; null otherwise.</summary>
    internal ChildProcess? Child { get; }

    /// <summary>A description of the job the child runs, used in error messages.</summary>
    public string? Job
    {
        get => job?.ToString();
        internal set => job = value;
    }

    /// <summary>The job's description: a string, or a <see cref="JobName"/> formatted when first read.</summary>
    private object? job;

    /// <summary>Records the job the child now runs, without formatting its name: <paramref name="name"/>'s ToString is called when something reads <see cref="Job"/>.</summary>
    internal void AssignJob(object name) => job = name;

    /// <summary>The serializer both ends use.</summary>
    public IChannelSerializer Serializer { get; }

    /// <summary>
    /// The descriptor that poll watches for this channel: the socket, or for a
    /// <see cref="ChannelTransportKind.SharedMemory"/> channel the eventfd that wakes a reader. It is not
    /// enough alone (bytes already read into the channel's buffer, or waiting in a ring, do not make it
    /// readable): wait with <see cref="Poll"/>, or an exchange.
    /// </summary>
    public int FileDescriptor
    {
        get
        {
            ThrowIfClosed();
            return transport.PollDescriptors[0];
        }
    }

    /// <summary>True once <see cref="Close"/> or <see cref="Dispose"/> has run.</summary>
    public bool IsClosed => closed;

    /// <summary>How many values and errors this end has received.</summary>
    public long MessagesReceived { get; private set; }

    /// <summary>True when the byte stream is out of step (truncated or garbage frame): the channel can only be closed.</summary>
    internal bool IsFaulted => fault is not null;

    /// <summary>True once the child has sent an exception; its exit status then adds nothing.</summary>
    internal bool ErrorReceived { get; private set; }

    /// <summary>The child's exit status once it has been reaped, or null.</summary>
    public ChildStatus? Status => Child?.Status;

    /// <summary>The largest payload this end sends or accepts, in bytes (<see cref="ChannelOptions.MaxMessageSize"/>).</summary>
    public long MaxMessageSize { get; }

    /// <summary>
    /// Sends a value. Strings, byte arrays, unmanaged values and arrays of them cross as raw
    /// bytes; other values go through the serializer's general path. Throws
    /// <see cref="ChannelSerializationException"/> for a value that cannot be serialised.
    /// </summary>
    public void Send(object? value)
    {
        ThrowIfClosed();
        ChannelPayload payload;
        try
        {
            payload = Serializer.Serialize(value);
        }
        catch (Exception e) when (e is not ChannelSerializationException)
        {
            var type = value?.GetType();
            throw new ChannelSerializationException(
                $"A value of type {type?.FullName ?? "null"} cannot be sent over a channel: {e.Message}", type, e);
        }
        WriteFrame(FrameKind.Value, payload);
    }

    /// <summary>
    /// Receives the next value, blocking until it arrives. If the sender's code threw, raises a
    /// <see cref="RemoteException"/> carrying the child's exception type, message and stack.
    /// If the child ended instead, raises a <see cref="ChildExitedException"/> with its exit status.
    /// </summary>
    public object? Receive() => Receive(typeof(object));

    private object? Receive(Type expected)
    {
        if (TryReceive(out var value, expected))
        {
            return value;
        }
        if (Child is null)
        {
            throw new EndOfStreamException(IsChild
                ? "The parent closed the channel: there is nothing more to receive."
                : $"{Describe()} closed the channel: there is nothing more to receive.");
        }
        var s = ReapAfterEndOfStream();
        var what = MessagesReceived == 0
            ? $"{s} without sending a result"
            : $"{s} after sending {MessagesReceived} message(s): there is nothing more to receive";
        throw new ChildExitedException($"{ChildProcessException.Describe(Pid, Job)} {what}.", Pid, Job, s);
    }

    /// <summary>Receives the next value as a <typeparamref name="T"/>; see <see cref="Receive()"/>.</summary>
    public T Receive<T>() => Cast<T>(Receive(typeof(T)), this);

    /// <summary>A received value as a <typeparamref name="T"/>, or an error naming the sender and both types.</summary>
    internal static T Cast<T>(object? value, Channel from)
    {
        if (value is T typed)
        {
            return typed;
        }
        if (value is null && default(T) is null)
        {
            return default!;
        }
        throw new InvalidCastException(
            $"Expected a {typeof(T).FullName} from {from.Describe()}, but it sent {(value is null ? "null" : "a " + value.GetType().FullName)}.");
    }

    /// <summary>
    /// Receives the next value, or returns false when the peer has closed its end and everything
    /// it sent has been read. In the parent, a child that ended by a signal or a non-zero exit code
    /// raises <see cref="ChildExitedException"/> instead of returning false.
    /// </summary>
    public bool TryReceive(out object? value) => TryReceive(out value, typeof(object));

    /// <summary>As <see cref="TryReceive(out object?)"/>, building only values of <paramref name="expected"/> (and the shapes it holds).</summary>
    internal bool TryReceive(out object? value, Type expected)
    {
        ThrowIfClosed();
        if (!inbox.HasFrame && inbox.Problem is null)
        {
            WaitForFrame(ReadDeadline);
        }
        if (transportFault is not null)
        {
            ThrowIfClosed();
        }
        if (inbox.Problem is { } problem)
        {
            throw Garbage(problem);
        }
        if (!inbox.HasFrame)
        {
            value = null;
            if (!inbox.IsEmpty)
            {
                throw Truncated(inbox.Describe());
            }
            if (Child is not null && Conclude(expectMessage: false) is { } failure)
            {
                throw failure;
            }
            return false;
        }
        switch (inbox.Kind)
        {
            case FrameKind.Value:
                value = ReadPayload(Serializer, expected);
                MessagesReceived++;
                return true;
            case FrameKind.Error:
                RemoteError error;
                try
                {
                    error = ReadPayload(ErrorSerializer.Instance, typeof(RemoteError)) as RemoteError
                        ?? throw Garbage("an error frame held no error");
                }
                catch (ChannelSerializationException unreadable)
                {
                    throw Garbage($"an error frame could not be decoded ({unreadable.InnerException?.Message ?? unreadable.Message})");
                }
                MessagesReceived++;
                ErrorReceived = true;
                throw new RemoteException(error, Pid, Job);
            case FrameKind.Control when Child is null:
                // The parent's "quit" to a reusable child: there is nothing more to receive.
                ReadPayload(Serializer, typeof(object));
                QuitReceived = true;
                value = null;
                return false;
            default:
                throw Garbage($"unexpected frame kind {inbox.Kind}");
        }
    }

    /// <summary>
    /// How long a blocking receive may wait for the rest of a frame; never by default. An owner that
    /// receives a second message in a row from a ready channel (an error after partial results) sets
    /// it to the job's deadline: past it the channel is faulted and <see cref="ChildTimeoutException"/> raised.
    /// </summary>
    internal Deadline ReadDeadline { get; set; } = Deadline.Never;

    /// <summary>The job timeout reported when <see cref="ReadDeadline"/> passes.</summary>
    internal TimeSpan? ReadTimeout { get; set; }

    /// <summary>When bytes of a frame not yet whole last arrived (<see cref="System.Diagnostics.Stopwatch"/> ticks), or 0: a result still arriving is not cut off by a job timeout.</summary>
    internal long PartialFrameSince => inbox.PartialSince;

    /// <summary>Blocks until a whole frame is here, the stream ends, the peer breaks the protocol, or <paramref name="deadline"/> passes.</summary>
    private void WaitForFrame(Deadline deadline)
    {
        if (deadline.IsNever)
        {
            if (!ended && !Fill(wait: true))
            {
                ended = true;
            }
            return;
        }
        Span<PollFd> fds = stackalloc PollFd[2];
        while (Probe() == ProbeResult.Empty)
        {
            if (deadline.HasPassed)
            {
                fault = "a message was cut off by the job timeout";
                ChildTimeoutException timedOut = new(
                    $"{Describe()} did not finish sending a message within the job timeout{(ReadTimeout is { } t ? $" of {t.TotalSeconds:0.###} s" : "")} ({inbox.Describe()}).",
                    Pid, Job, ReadTimeout ?? TimeSpan.Zero);
                throw timedOut;
            }
            var descriptors = transport.PollDescriptors;
            for (int i = 0; i < descriptors.Length; i++)
            {
                fds[i] = PollFd.ForInput(descriptors[i]);
            }
            if (!transport.ArmWakeUp())
            {
                LibC.Poll(fds[..descriptors.Length], deadline);
            }
        }
    }

    /// <summary>Reads into the inbox (blocking or not); false at the end of the stream. A transport's protocol fault is kept, to be raised as this channel's.</summary>
    private bool Fill(bool wait)
    {
        try
        {
            return inbox.Fill(transport, wait);
        }
        catch (ChannelProtocolException broken)
        {
            fault ??= $"the peer broke the channel's protocol: {broken.Message}";
            transportFault = broken.Message;
            return true;
        }
    }

    /// <summary>A protocol fault the transport found (a ring position out of bounds), raised by the next receive.</summary>
    private string? transportFault;

    /// <summary>True in a reusable child once the parent has told it that no more jobs come.</summary>
    internal bool QuitReceived { get; private set; }

    /// <summary>Tells a reusable child that no more jobs come, so that it exits.</summary>
    internal void SendQuit()
    {
        if (IsOwner)
        {
            // A copy inherited by a child (an exchange disposed in a child) must not write to a
            // descriptor number that the child has closed, and may have reused.
            WriteFrame(FrameKind.Control, DefaultChannelSerializer.Instance.Serialize(null));
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> (<see cref="TimeSpan.Zero"/>: just look; null: no
    /// limit) until a message, or the end of the stream, can be read without blocking. Uses poll,
    /// so it works in a child, which has no timers or thread pool.
    /// </summary>
    public bool Poll(TimeSpan? timeout)
    {
        ThrowIfClosed();
        using var set = new ChannelSet<Channel>();
        set.Add(this, this);
        List<ChannelSet<Channel>.Entry> ready = [], ended = [];
        set.Wait(Deadline.After(timeout), ready, ended);
        return ready.Count + ended.Count > 0;
    }

    /// <summary>
    /// Waits for the child to end and reaps it, returning its exit status. Call this in the parent;
    /// calling it again returns the same status.
    /// </summary>
    public ChildStatus Wait() =>
        Child?.Wait() ?? throw new InvalidOperationException(
            $"Wait is for the parent of a child: this channel leads to {Describe()}, which is not a child of this process.");

    /// <summary>Closes this end. The child is not waited for: see <see cref="Dispose"/>.</summary>
    public void Close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (!IsOwner)
        {
            // A copy inherited by a forked child: the descriptor was closed right after that fork
            // and its number may have been reused since.
            return;
        }
        foreach (var fd in transport.Descriptors)
        {
            DescriptorRegistry.Remove(fd);
        }
        transport.Dispose();
        inbox.Release();
    }

    /// <summary>
    /// Closes this end and, in the parent, reaps the child so that no zombie is left. A child that
    /// is still running is killed first (SIGKILL); call <see cref="Wait"/> before disposing to let it finish.
    /// </summary>
    public void Dispose()
    {
        Close();
        Child?.KillAndReap();
    }

    /// <inheritdoc />
    public override string ToString() =>
        IsChild ? "Channel(to parent)" : Child is null ? $"Channel({Describe()})" : $"Channel(child {Pid}{(Job is null ? "" : ", job " + Job)})";

    private bool IsOwner => ownerPid == ProcessIdentity.Current;

    internal string Describe() => PeerDescription ?? (IsChild ? "the parent process" : ChildProcessException.Describe(Pid, Job));

    /// <summary>
    /// What the other end is, for messages, when it is not a parent or child: a persistent
    /// connection's peer (a background process, or a collector).
    /// </summary>
    internal string? PeerDescription { get; init; }

    /// <summary>Sends an exception thrown by this side's code.</summary>
    internal void SendError(Exception exception)
    {
        ThrowIfClosed();
        WriteFrame(FrameKind.Error, ErrorSerializer.Instance.Serialize(RemoteError.From(exception)));
    }

    /// <summary>Passes on an exception received from another process, keeping its original type and stack.</summary>
    internal void SendRemoteError(RemoteError error)
    {
        ThrowIfClosed();
        WriteFrame(FrameKind.Error, ErrorSerializer.Instance.Serialize(error));
    }

    /// <summary>
    /// Reads what is there without blocking, and says whether a whole message can be received
    /// (<see cref="ProbeResult.Data"/>, also when there is a fault to report: the receive raises it),
    /// the stream has ended with nothing left, or neither yet. The readiness loop calls it.
    /// </summary>
    internal ProbeResult Probe()
    {
        if (!inbox.HasFrame && inbox.Problem is null && transportFault is null && !ended && !closed && !Fill(wait: false))
        {
            ended = true;
        }
        return Reportable() ?? ProbeResult.Empty;
    }

    /// <summary>What can be reported without reading: a whole frame or a fault (Data), the end (Data if a frame was cut off), or null.</summary>
    private ProbeResult? Reportable() =>
        inbox.HasFrame || inbox.Problem is not null || transportFault is not null ? ProbeResult.Data
        : ended ? inbox.IsEmpty ? ProbeResult.EndOfStream : ProbeResult.Data
        : null;

    /// <summary>
    /// Blocks until a whole message or the end of the stream is here, and says which; null if only
    /// poll waits well for this transport (shared memory). A loop with this one channel and nothing
    /// else to watch waits so: a socket's blocking read, one system call instead of a poll and a read.
    /// </summary>
    internal ProbeResult? WaitForData()
    {
        if (Reportable() is { } now)
        {
            return now;
        }
        if (!transport.WaitsByReading)
        {
            return null;
        }
        WaitForFrame(Deadline.Never);
        return Reportable() ?? ProbeResult.Empty;
    }

    /// <summary>Writes raw bytes, unframed: for tests that send garbage.</summary>
    internal void WriteRaw(ReadOnlySpan<byte> bytes) => transport.Write(bytes);

    /// <summary>The descriptors a poll loop watches for this channel.</summary>
    internal int[] PollDescriptors => transport.PollDescriptors;

    /// <summary>How long a reader watches memory before blocking (shared memory); zero for a socket.</summary>
    internal TimeSpan SpinLimit => transport.SpinLimit;

    /// <summary>Before blocking in poll: asks the transport for a wake-up; true if something can be reported or read already.</summary>
    internal bool ArmWakeUp() => Reportable() is not null || transport.ArmWakeUp();

    /// <summary>True when something can be reported, or data waits in shared memory; see <see cref="Transports.IChannelTransport.DataWaiting"/>.</summary>
    internal bool DataWaiting => Reportable() is not null || transport.DataWaiting;

    /// <summary>How long a child that has closed its end may take to exit before it is killed.</summary>
    internal TimeSpan ExitGrace { get; }

    /// <summary>Reaps the child whose end of the channel is closed; see <see cref="ChildProcess.WaitOrKill"/>.</summary>
    private ChildStatus ReapAfterEndOfStream() => Child!.WaitOrKill(Deadline.After(ExitGrace));

    /// <summary>Reaps the child without blocking; null while it runs.</summary>
    internal ChildStatus? TryWait() => Child?.TryWait();

    /// <summary>
    /// After the child has closed its end: reaps it and says what went wrong, if anything
    /// (<see cref="ChildProcess.Conclude"/>). <paramref name="expectMessage"/>: the child still owed
    /// the result of a job, so ending cleanly is a failure too.
    /// </summary>
    internal ChildProcessException? Conclude(bool expectMessage) =>
        Child?.Conclude(Describe(), Job, ExitGrace, MessagesReceived, ErrorReceived, expectMessage);

    private void ThrowIfClosed()
    {
        ObjectDisposedException.ThrowIf(closed, this);
        if (transportFault is { } broken)
        {
            throw new ChannelProtocolException($"{Describe()} broke the shared-memory ring's protocol: {broken}. The channel is unusable.");
        }
        if (fault is not null)
        {
            throw new ChannelProtocolException($"The channel to {Describe()} is unusable: {fault}.");
        }
    }

    /// <summary>Decodes the whole frame in the inbox, then lets it go (the stream stays in step whatever the decoding does).</summary>
    private object? ReadPayload(IChannelSerializer serializer, Type expected)
    {
        var reader = inbox.Payload();
        try
        {
            return serializer.Deserialize(inbox.Format, inbox.Length, reader, expected);
        }
        catch (Exception e)
        {
            throw new ChannelSerializationException($"A value sent by {Describe()} could not be decoded: {e.Message}", null, e);
        }
        finally
        {
            inbox.Consumed();
        }
    }

    private Exception Truncated(string what)
    {
        fault = $"a message was truncated ({what})";
        if (Child is null)
        {
            return new ChannelProtocolException($"The message from {Describe()} was truncated: {what}.");
        }
        var s = ReapAfterEndOfStream();
        var message = $"{Describe()} {s}{Child.Explain(s)} in the middle of a message: {what}.";
        return s.Succeeded
            ? new ChannelProtocolException(message)
            : new ChildExitedException(message, Pid, Job, s);
    }

    private ChannelProtocolException Garbage(string what)
    {
        fault = $"it received bytes that are not a valid message ({what})";
        return new ChannelProtocolException($"{Describe()} sent bytes that are not a valid message: {what}.");
    }

    private void WriteFrame(FrameKind kind, ChannelPayload payload)
    {
        long length = payload.Length;
        if (length > MaxMessageSize)
        {
            throw new ChannelSerializationException(
                $"A message of {length} bytes is larger than the {MaxMessageSize} bytes a message to {Describe()} may have (ChannelOptions.MaxMessageSize).", null);
        }
        var writer = frameWriter ??= new FrameWriter(transport);
        writer.Begin(length);
        try
        {
            Span<byte> header = stackalloc byte[Frame.HeaderSize];
            Frame.WriteHeader(header, kind, payload.Format, length);
            writer.Write(header);
            payload.WriteTo(writer);
            writer.Flush();
        }
        catch (Exception e)
        {
            if (writer.Started)
            {
                fault = "a message was only partly written";
            }
            if (e is ChannelProtocolException broken)
            {
                // The transport found the peer breaking the protocol (a ring position out of bounds).
                transportFault = broken.Message;
                fault ??= $"the peer broke the channel's protocol: {broken.Message}";
                throw new ChannelProtocolException($"{Describe()} broke the shared-memory ring's protocol: {broken.Message}. The channel is unusable.", e);
            }
            if (e is IOException)
            {
                throw;
            }
            throw new ChannelSerializationException($"Writing a message to {Describe()} failed: {e.Message}", null, e);
        }
        finally
        {
            writer.End();
        }
        if (writer.Written != length + Frame.HeaderSize)
        {
            fault = "a serializer wrote a different number of bytes than it announced";
            throw new ChannelSerializationException(
                $"The serializer announced {length} bytes but wrote {writer.Written - Frame.HeaderSize}.", null);
        }
    }

    /// <summary>The channel's frame writer, made at first use and reused for every message (one writer at a time).</summary>
    private FrameWriter? frameWriter;

    /// <summary>
    /// Coalesces the header and small payloads into one write; large spans go straight through.
    /// A small frame (a job's argument or result, say) is coalesced in the writer's own buffer;
    /// a larger one in a buffer rented for that frame.
    /// </summary>
    private sealed class FrameWriter(IChannelTransport transport) : IPayloadWriter
    {
        private const int SmallFrame = 256;
        private readonly byte[] small = new byte[SmallFrame];
        private byte[] buffer = [];
        private int used;

        public long Written { get; private set; }

        public bool Started { get; private set; }

        public void Begin(long payloadLength)
        {
            long frame = payloadLength + Frame.HeaderSize;
            buffer = frame <= SmallFrame ? small : ArrayPool<byte>.Shared.Rent((int)Math.Min(CoalesceLimit, frame));
            (used, Written, Started) = (0, 0, false);
        }

        public void Write(ReadOnlySpan<byte> data)
        {
            var b = buffer;
            if (data.Length <= b.Length - used)
            {
                data.CopyTo(b.AsSpan(used));
                used += data.Length;
            }
            else
            {
                Flush();
                if (data.Length <= b.Length)
                {
                    data.CopyTo(b);
                    used = data.Length;
                }
                else
                {
                    Started = true;
                    transport.Write(data);
                }
            }
            Written += data.Length;
        }

        public void Flush()
        {
            if (used > 0)
            {
                Started = true;
                transport.Write(buffer.AsSpan(0, used));
                used = 0;
            }
        }

        /// <summary>Gives back the frame's rented buffer.</summary>
        public void End()
        {
            if (!ReferenceEquals(buffer, small) && buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
            buffer = [];
        }
    }

    /// <summary>Error frames always use JSON for the <see cref="RemoteError"/>, whatever the channel's serializer.</summary>
    private sealed class ErrorSerializer : IChannelSerializer
    {
        internal static readonly ErrorSerializer Instance = new();

        public ChannelPayload Serialize(object? value) => DefaultChannelSerializer.Instance.Serialize(
            ((RemoteError)value!).ToBoundedJson());

        public object? Deserialize(byte format, long length, IPayloadReader reader) =>
            DefaultChannelSerializer.Instance.Deserialize(format, length, reader, typeof(byte[])) is byte[] bytes
                ? RemoteError.Parse(bytes, JsonSerializerOptions.Default)
                : null;
    }
}
