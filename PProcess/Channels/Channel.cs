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
    private bool closed;
    private string? fault;

    /// <param name="transport">The bytes' way.</param>
    /// <param name="child">In the parent, the child at the other end; null in the child, and for a persistent peer.</param>
    /// <param name="job">The job, for messages.</param>
    /// <param name="serializer">The serializer both ends use.</param>
    /// <param name="toParent">True for a child's end, which leads to its parent.</param>
    /// <param name="exitGrace">How long a child that closed its end may take to exit; see <see cref="ChannelOptions.ExitGrace"/>.</param>
    internal Channel(IChannelTransport transport, ChildProcess? child, string? job, IChannelSerializer serializer, bool toParent = false,
        TimeSpan? exitGrace = null)
    {
        this.transport = transport;
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
    public object? Receive()
    {
        if (TryReceive(out var value))
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
    public T Receive<T>() => Cast<T>(Receive(), this);

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
    public bool TryReceive(out object? value)
    {
        ThrowIfClosed();
        Span<byte> header = stackalloc byte[Frame.HeaderSize];
        int got = ReadAvailable(header);
        if (got == 0)
        {
            value = null;
            if (Child is not null && Conclude(expectMessage: false) is { } failure)
            {
                throw failure;
            }
            return false;
        }
        if (got < Frame.HeaderSize)
        {
            throw Truncated($"the frame header was cut off after {got} of {Frame.HeaderSize} bytes");
        }
        if (Frame.TryParse(header, out var kind, out var format, out var length) is { } problem)
        {
            throw Garbage(problem);
        }
        switch (kind)
        {
            case FrameKind.Value:
                value = ReadPayload(format, length, Serializer);
                MessagesReceived++;
                return true;
            case FrameKind.Error:
                var error = ReadPayload(format, length, ErrorSerializer.Instance) as RemoteError
                    ?? throw Garbage("an error frame held no error");
                MessagesReceived++;
                ErrorReceived = true;
                throw new RemoteException(error, Pid, Job);
            case FrameKind.Control when Child is null:
                // The parent's "quit" to a reusable child: there is nothing more to receive.
                ReadPayload(format, length, Serializer);
                QuitReceived = true;
                value = null;
                return false;
            default:
                throw Garbage($"unexpected frame kind {kind}");
        }
    }

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

    internal ProbeResult Probe() => transport.Probe();

    /// <summary>Blocks until a message or the end of the stream can be read; null if only poll can wait for this transport.</summary>
    internal ProbeResult? WaitForData() => transport.WaitForData();

    /// <summary>Writes raw bytes, unframed: for tests that send garbage.</summary>
    internal void WriteRaw(ReadOnlySpan<byte> bytes) => transport.Write(bytes);

    /// <summary>The descriptors a poll loop watches for this channel.</summary>
    internal int[] PollDescriptors => transport.PollDescriptors;

    /// <summary>How long a reader watches memory before blocking (shared memory); zero for a socket.</summary>
    internal TimeSpan SpinLimit => transport.SpinLimit;

    /// <summary>Before blocking in poll: asks the transport for a wake-up; true if data is already there.</summary>
    internal bool ArmWakeUp() => transport.ArmWakeUp();

    /// <summary>True when data is buffered for this end in shared memory; see <see cref="Transports.IChannelTransport.DataWaiting"/>.</summary>
    internal bool DataWaiting => transport.DataWaiting;

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
        if (fault is not null)
        {
            throw new ChannelProtocolException($"The channel to {Describe()} is unusable: {fault}.");
        }
    }

    /// <summary>Reads until the buffer is full or the stream ends; returns the count read.</summary>
    private int ReadAvailable(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = transport.Read(buffer[total..]);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private object? ReadPayload(byte format, long length, IChannelSerializer serializer)
    {
        var reader = frameReader ??= new FrameReader(this);
        reader.Begin(length);
        object? value;
        try
        {
            value = serializer.Deserialize(format, length, reader);
        }
        catch (Exception e) when (!reader.Truncated && (e is not IOException || e is ChannelProtocolException))
        {
            reader.SkipRest();
            throw new ChannelSerializationException($"A value sent by {Describe()} could not be decoded: {e.Message}", null, e);
        }
        if (reader.Remaining != 0)
        {
            reader.SkipRest();
        }
        return value;
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

    /// <summary>The channel's frame reader and writer, made at first use and reused for every message (one reader and one writer at a time).</summary>
    private FrameReader? frameReader;

    private FrameWriter? frameWriter;

    /// <summary>Reads one frame's payload, refusing to run past its end.</summary>
    private sealed class FrameReader(Channel channel) : IPayloadReader
    {
        private long total;

        public long Remaining { get; private set; }

        public bool Truncated { get; private set; }

        public void Begin(long length) => (total, Remaining, Truncated) = (length, length, false);

        public void ReadExactly(Span<byte> buffer)
        {
            if (buffer.Length > Remaining)
            {
                throw new ChannelProtocolException($"The serializer read past the end of a {total}-byte payload.");
            }
            int got = channel.ReadAvailable(buffer);
            Remaining -= got;
            if (got < buffer.Length)
            {
                Truncated = true;
                throw channel.Truncated($"the payload was cut off after {total - Remaining} of {total} bytes");
            }
        }

        public void SkipRest()
        {
            var scratch = ArrayPool<byte>.Shared.Rent((int)Math.Min(Remaining, 1 << 20));
            try
            {
                while (Remaining > 0)
                {
                    ReadExactly(scratch.AsSpan(0, (int)Math.Min(Remaining, scratch.Length)));
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

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
            JsonSerializer.SerializeToUtf8Bytes((RemoteError)value!));

        public object? Deserialize(byte format, long length, IPayloadReader reader) =>
            DefaultChannelSerializer.Instance.Deserialize(format, length, reader) is byte[] bytes
                ? JsonSerializer.Deserialize<RemoteError>(bytes)
                : null;
    }
}
