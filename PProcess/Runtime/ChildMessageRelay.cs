using System.Buffers.Binary;
using PProcess.Native;

namespace PProcess.Runtime;

/// <summary>
/// The way of <see cref="ChildMessages"/>: one Unix stream socket per process, whose reading end a
/// thread of the process reads (with SO_PASSCRED: the kernel names the sender of each piece and
/// never joins two senders' bytes), and whose writing end every child holds. A message is a
/// length, a topic and a payload; the pieces of each child are put back together in the order it
/// wrote them, and every complete message is handed to the topic's handlers. Made at the first fork
/// after a subscription (an at-fork hook); a child that forks makes its own, and its handlers (the
/// parent's, inherited) pass its children's messages on. As <see cref="StandardErrorRelay"/>, the
/// thread reads under the lock that a drain takes, so that when a child has been reaped, every
/// message it sent has been handed on (<see cref="AfterReap"/>).
/// </summary>
internal sealed unsafe class ChildMessageRelay
{
    /// <summary>The largest message a child may send: a longer length is garbage, and ends what is read from that child.</summary>
    internal const int MaxMessage = 16 * 1024 * 1024;

    private static ChildMessageRelay? current;
    private static readonly object Creation = new();

    /// <summary>In a child: the writing end of its parent's relay, or -1 (not a child of a relay, or detached: a background process).</summary>
    private static int toParent = -1;
    private static object sendGate = new();

    private readonly int readEnd;
    private readonly int writeEnd;
    private readonly object gate = new();
    private readonly byte[] buffer = new byte[64 * 1024];
    /// <summary>Each child's bytes not yet part of a whole message; null once it sent garbage (nothing more of it is read).</summary>
    private readonly Dictionary<int, List<byte>?> partial = [];

    private ChildMessageRelay(int readEnd, int writeEnd) => (this.readEnd, this.writeEnd) = (readEnd, writeEnd);

    /// <summary>True in a child that can send to its parent.</summary>
    internal static bool CanSend => Volatile.Read(ref toParent) >= 0;

    /// <summary>In the parent, before a fork (an at-fork hook): this process's relay, made now with its thread if there is none.</summary>
    internal static void EnsureForThisProcess()
    {
        if (current is not null)
        {
            return;
        }
        lock (Creation)
        {
            if (current is not null || LibC.CredentialSocketPair(out int read, out int write) != 0)
            {
                return; // without one, children's messages go to their standard error
            }
            var made = new ChildMessageRelay(read, write);
            new Thread(made.Relay, 256 * 1024) { IsBackground = true, Name = "PProcess messages" }.UnsafeStart();
            current = made;
        }
    }

    /// <summary>
    /// In a new child (an at-fork hook): its messages go to the relay of the process that forked it,
    /// if it had one; the relay of a grandparent, inherited, is closed; the child makes its own at its first fork.
    /// </summary>
    internal static void AttachChild()
    {
        int previous = toParent;
        var parent = current;
        current = null;
        sendGate = new object(); // the inherited one may have been held by a thread of the parent
        if (parent is null)
        {
            return; // no relay in the parent at the fork: the grandparent's, if any, stays this child's way up
        }
        LibC.Close(parent.readEnd);
        if (previous >= 0)
        {
            LibC.Close(previous);
        }
        toParent = parent.writeEnd;
    }

    /// <summary>
    /// In a process that leaves its parent (a background process): its messages no longer go up, and
    /// the descriptor is forgotten before the process closes its inherited descriptors, so that no
    /// later descriptor with its number receives them.
    /// </summary>
    internal static void Detach()
    {
        current = null;
        Volatile.Write(ref toParent, -1);
    }

    /// <summary>In a child: sends one message to its parent, whole, blocking while the parent is behind. False if it cannot go up.</summary>
    internal static bool Send(string topic, ReadOnlySpan<byte> payload)
    {
        int fd = Volatile.Read(ref toParent);
        if (fd < 0)
        {
            return false;
        }
        int topicLength = System.Text.Encoding.UTF8.GetByteCount(topic);
        if (topicLength > ushort.MaxValue || 2L + topicLength + payload.Length > MaxMessage)
        {
            throw new ArgumentException($"A child's message must be at most {MaxMessage} bytes with its topic; this one is {payload.Length} bytes.");
        }
        int length = 2 + topicLength + payload.Length;
        var message = new byte[4 + length];
        BinaryPrimitives.WriteInt32LittleEndian(message, length);
        BinaryPrimitives.WriteUInt16LittleEndian(message.AsSpan(4), (ushort)topicLength);
        System.Text.Encoding.UTF8.GetBytes(topic, message.AsSpan(6));
        payload.CopyTo(message.AsSpan(6 + topicLength));
        // One message at a time from this process: two threads' bytes must not mix in the stream.
        lock (sendGate)
        {
            fixed (byte* data = message)
            {
                int done = 0;
                while (done < message.Length)
                {
                    long n = LibC.Write(fd, data + done, (nuint)(message.Length - done));
                    if (n < 0)
                    {
                        return false; // the parent's relay is gone (EPIPE): it can take no more
                    }
                    done += (int)n;
                }
            }
        }
        return true;
    }

    /// <summary>
    /// In the parent, once <paramref name="pid"/> has been reaped: every message it sent is handed on
    /// first (its bytes are in the socket, or read), then what is left of it (a message cut off by its
    /// death) is dropped, so that a later child with the same pid starts clean.
    /// </summary>
    internal static void AfterReap(int pid)
    {
        if (current is not { } relay)
        {
            return;
        }
        lock (relay.gate)
        {
            relay.Drain();
            relay.partial.Remove(pid);
        }
    }

    /// <summary>In the parent: hands on every message that has arrived so far.</summary>
    internal static void Flush()
    {
        if (current is not { } relay)
        {
            return;
        }
        lock (relay.gate)
        {
            relay.Drain();
        }
    }

    private void Relay() => RelayThread.Run(readEnd, gate, Drain);

    /// <summary>Under the lock: reads every piece waiting and hands on the messages it completes; false when there was none.</summary>
    private bool Drain()
    {
        bool any = false;
        while (true)
        {
            int pid;
            long n;
            fixed (byte* data = buffer)
            {
                n = LibC.ReceiveWithSender(readEnd, data, (nuint)buffer.Length, wait: false, out pid);
            }
            if (n <= 0)
            {
                return any;
            }
            any = true;
            Take(pid, buffer.AsSpan(0, (int)n));
        }
    }

    /// <summary>Adds a piece to its sender's bytes and hands on each whole message they now hold.</summary>
    private void Take(int pid, ReadOnlySpan<byte> piece)
    {
        if (!partial.TryGetValue(pid, out var pending))
        {
            partial[pid] = pending = [];
        }
        if (pending is null)
        {
            return; // this child sent garbage: nothing more of it is read
        }
        pending.AddRange(piece);
        int at = 0;
        var bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending);
        while (bytes.Length - at >= 4)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
            if (length < 2 || length > MaxMessage)
            {
                partial[pid] = null;
                Report($"child {pid} sent a message of {length} bytes (at most {MaxMessage}): its further messages are dropped");
                return;
            }
            if (bytes.Length - at - 4 < length)
            {
                break;
            }
            var message = bytes.Slice(at + 4, length);
            int topicLength = BinaryPrimitives.ReadUInt16LittleEndian(message);
            if (2 + topicLength > length)
            {
                partial[pid] = null;
                Report($"child {pid} sent a message whose topic is longer than the message: its further messages are dropped");
                return;
            }
            var topic = System.Text.Encoding.UTF8.GetString(message.Slice(2, topicLength));
            ChildMessages.Dispatch(topic, new ChildMessage(pid, message[(2 + topicLength)..].ToArray()));
            at += 4 + length;
        }
        pending.RemoveRange(0, at);
    }

    private static void Report(string what)
    {
        try
        {
            Console.Error.WriteLine($"PProcess: {what}.");
        }
        catch (Exception)
        {
            // Standard error is gone: nothing else can be told.
        }
    }
}
