using System.Text;
using PProcess.Native;

namespace PProcess.Runtime;

/// <summary>
/// Children's standard error, passed on to the parent's and remembered per child, so that a child
/// the runtime aborted is reported with what it said ("Process terminated. ...", "Fatal error.
/// ...", "Stack overflow."), not with a guess. Every child's descriptor 2 is one end of a single
/// Unix stream socket; a thread of the parent reads the other end, with SO_PASSCRED, so the kernel
/// names the sending process of each piece (it never joins the bytes of two senders in one read),
/// writes each piece to the parent's own standard error at once, and keeps the last
/// <see cref="TailBytes"/> of each child. Made at the first fork of a process; a child that forks
/// makes its own, which passes its children's bytes on to it.
/// </summary>
internal sealed unsafe class StandardErrorRelay
{
    /// <summary>How much of each child's standard error is kept for its diagnosis.</summary>
    internal const int TailBytes = 4096;

    /// <summary>How many children's tails are kept (the oldest goes first).</summary>
    private const int Children = 256;

    private static StandardErrorRelay? current;
    private static readonly object Creation = new();

    private readonly int readEnd;
    private readonly int writeEnd;
    private readonly Dictionary<int, StringBuilder> tails = [];
    /// <summary>
    /// Each child's diagnosis (<see cref="Diagnosis"/>), taken while its first line is still in the
    /// tail: the stack trace that follows it can be longer than <see cref="TailBytes"/>.
    /// </summary>
    private readonly Dictionary<int, string> diagnoses = [];
    private readonly Queue<int> order = new();
    private readonly byte[] buffer = new byte[64 * 1024];
    private readonly object gate = new();

    private StandardErrorRelay(int readEnd, int writeEnd)
    {
        this.readEnd = readEnd;
        this.writeEnd = writeEnd;
    }

    /// <summary>In the parent, before a fork: this process's relay, made at its first fork. Null if it cannot be made.</summary>
    internal static StandardErrorRelay? ForThisProcess()
    {
        if (current is { } relay)
        {
            return relay;
        }
        lock (Creation)
        {
            if (current is null && Create() is { } made)
            {
                var reader = new Thread(made.Relay, 256 * 1024) { IsBackground = true, Name = "PProcess stderr" };
                reader.UnsafeStart();
                current = made;
            }
            return current;
        }
    }

    private static StandardErrorRelay? Create()
    {
        if (LibC.CredentialSocketPair(out int read, out int write) != 0)
        {
            return null; // children keep the parent's standard error; their aborts are explained without it
        }
        // Neither end is a channel's: a child closes the reading end itself, and keeps the writing end as its descriptor 2.
        return new StandardErrorRelay(read, write);
    }

    /// <summary>
    /// In a new child, before user code: its standard error becomes the relay's writing end, and
    /// the parent's relay is not this process's (it makes its own at its first fork).
    /// </summary>
    internal void AttachChild()
    {
        LibC.Close(readEnd);
        LibC.Dup2(writeEnd, 2);
        LibC.Close(writeEnd);
        current = null;
    }

    /// <summary>In the parent, right after a fork: a tail kept for an earlier process with the same pid is not this child's.</summary>
    internal void Forget(int pid)
    {
        lock (gate)
        {
            tails.Remove(pid);
            diagnoses.Remove(pid);
        }
    }

    /// <summary>
    /// In the parent, once <paramref name="pid"/> has ended: the line of its standard error that
    /// says why the runtime ended it (<see cref="Diagnosis"/>), and its last line, or nulls. Takes
    /// what the child wrote before it ended first: it is in the socket by then, or read and
    /// remembered, because the relay's thread reads and remembers under the same lock.
    /// </summary>
    internal static (string? Diagnosis, string? LastLine) LastWords(int pid)
    {
        if (current is not { } relay)
        {
            return default;
        }
        string tail;
        string? known;
        lock (relay.gate)
        {
            relay.Drain();
            known = relay.diagnoses.GetValueOrDefault(pid);
            if (!relay.tails.TryGetValue(pid, out var text))
            {
                return (known, null);
            }
            tail = text.ToString();
        }
        return (known ?? Diagnosis(tail), LastLine(tail));
    }

    /// <summary>The last line of a tail with something on it, shortened to 400 characters; null if there is none.</summary>
    internal static string? LastLine(string tail)
    {
        var lines = tail.Split('\n');
        for (int i = lines.Length - 1; i >= 0; i--)
        {
            if (lines[i].Trim() is { Length: > 0 } line)
            {
                return line.Length > 400 ? line[..400] + "..." : line;
            }
        }
        return null;
    }

    /// <summary>The first line of a tail that the runtime writes when it ends a process, with the line after it.</summary>
    internal static string? Diagnosis(string tail)
    {
        var lines = tail.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (Markers.Any(m => line.StartsWith(m, StringComparison.Ordinal)))
            {
                // "Unhandled exception. System.X: message" is one line; "Process terminated." and
                // "Fatal error." are followed by the message on the next.
                if (line.EndsWith('.') && !line.Contains(':') && i + 1 < lines.Length && lines[i + 1].Trim() is { Length: > 0 } next)
                {
                    line += " " + next;
                }
                return line.Length > 400 ? line[..400] + "..." : line;
            }
        }
        return null;
    }

    private static readonly string[] Markers =
    [
        "Process terminated.", "Fatal error.", "Unhandled exception.", "Stack overflow.", "Out of memory.",
        "Unhandled Exception:", "PProcess child",
    ];

    /// <summary>
    /// The relay's thread: waits outside the lock until something can be read, then reads and
    /// remembers it under the lock. A diagnosis (<see cref="LastWords"/>) takes the same lock, so it
    /// never finds a piece read from the socket but not yet remembered (it did, before: a FailFast's
    /// quote lost its message in 1 of 20 reports, and a thread's unhandled exception its line).
    /// </summary>
    private void Relay() => RelayThread.Run(readEnd, gate, Drain);

    /// <summary>Under the lock: reads, passes on and remembers every piece waiting; false when there was none.</summary>
    private bool Drain()
    {
        bool any = false;
        while (ReadOnce())
        {
            any = true;
        }
        return any;
    }

    /// <summary>Under the lock: reads one piece without waiting, passes it on and remembers it; false when nothing was read.</summary>
    private bool ReadOnce()
    {
        fixed (byte* data = buffer)
        {
            long n = LibC.ReceiveWithSender(readEnd, data, (nuint)buffer.Length, wait: false, out int pid);
            if (n <= 0)
            {
                return false;
            }
            WriteToStandardError(data, (int)n);
            Remember(pid, Encoding.UTF8.GetString(data, (int)n));
            return true;
        }
    }

    private static void WriteToStandardError(byte* data, int length)
    {
        while (length > 0)
        {
            long n = LibC.Write(2, data, (nuint)length);
            if (n < 0)
            {
                return; // the parent's standard error is closed: the tail is still kept
            }
            data += n;
            length -= (int)n;
        }
    }

    private void Remember(int pid, string text)
    {
        if (!tails.TryGetValue(pid, out var tail))
        {
            tails[pid] = tail = new StringBuilder();
            order.Enqueue(pid);
            if (order.Count > Children)
            {
                int oldest = order.Dequeue();
                tails.Remove(oldest);
                diagnoses.Remove(oldest);
            }
        }
        tail.Append(text);
        if (tail.Length > TailBytes)
        {
            // Before the beginning of what the runtime wrote goes: a FailFast's stack trace (every
            // frame down to the fork, with generic arguments spelt out) can be longer than the tail.
            if (!diagnoses.ContainsKey(pid) && Diagnosis(tail.ToString()) is { } diagnosis)
            {
                diagnoses[pid] = diagnosis;
            }
            tail.Remove(0, tail.Length - TailBytes);
        }
    }
}
