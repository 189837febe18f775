using PProcess.Runtime;

namespace PProcess;

/// <summary>A message a child sent with <see cref="ChildMessages.Send"/>: who sent it, and its bytes.</summary>
/// <param name="Pid">The sending child's pid (the kernel's word, not the child's).</param>
/// <param name="Payload">The bytes it sent.</param>
public readonly record struct ChildMessage(int Pid, ReadOnlyMemory<byte> Payload);

/// <summary>
/// Messages from forked children to the process that forked them, outside their channels: what a
/// library needs to bring a child's side effects home (PProcess.Extensions.Logging sends a child's
/// log records this way). A child's messages arrive in the order it sent them, whole, each with its
/// pid; a child that sends faster than the parent takes them waits (nothing is lost, nothing piles
/// up); and once the parent has reaped a child, every message that child sent has been handed on.
/// A process that is itself a child passes its children's messages on to its handlers, which it
/// inherited: they may send them further up.
/// </summary>
/// <remarks>
/// The handlers run on a thread of the library's (or on the thread that reaps a child), one message
/// at a time, in each child's order; they should not fork, and should not wait for a child. The way
/// is made at the first fork after the first subscription (an at-fork hook,
/// <see cref="Fork.RegisterAtFork"/>), so children forked before it cannot send. A background process
/// (<see cref="BackgroundProcess"/>) has left its parent: it cannot send.
/// </remarks>
public static class ChildMessages
{
    private static Subscription[] subscriptions = [];
    private static IDisposable? hooks;
    private static readonly object Gate = new();

    /// <summary>
    /// In a parent: calls <paramref name="handler"/> with each message its children send on
    /// <paramref name="topic"/>. Dispose the result to stop.
    /// </summary>
    public static IDisposable Subscribe(string topic, Action<ChildMessage> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(handler);
        var subscription = new Subscription(topic, handler);
        lock (Gate)
        {
            subscriptions = [.. subscriptions, subscription];
            hooks ??= Fork.RegisterAtFork(before: ChildMessageRelay.EnsureForThisProcess, afterInChild: ChildMessageRelay.AttachChild);
        }
        return subscription;
    }

    /// <summary>True in a child that can send to its parent (a subscription existed in the parent when the child was forked).</summary>
    public static bool CanSend => ChildMessageRelay.CanSend;

    /// <summary>
    /// In a child: sends <paramref name="payload"/> on <paramref name="topic"/> to the process that
    /// forked it, whole (at most 16 MiB), waiting while the parent is behind. Thread-safe. False when
    /// it cannot go: this process is not a child, the parent had no subscription when it forked it,
    /// or the parent is gone.
    /// </summary>
    public static bool Send(string topic, ReadOnlySpan<byte> payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        return ChildMessageRelay.Send(topic, payload);
    }

    /// <summary>In a parent: hands every message its children have sent so far to the handlers, on this thread, before it returns.</summary>
    public static void Flush() => ChildMessageRelay.Flush();

    internal static void Dispatch(string topic, ChildMessage message)
    {
        foreach (var subscription in Volatile.Read(ref subscriptions))
        {
            if (subscription.Topic != topic || subscription.IsDisposed)
            {
                continue;
            }
            try
            {
                subscription.Handler(message);
            }
            catch (Exception e)
            {
                // A handler's failure is told, and does not stop the messages of others.
                try
                {
                    Console.Error.WriteLine($"PProcess: a handler of child messages on '{topic}' failed: {e}");
                }
                catch (Exception)
                {
                    // Nothing else can be told.
                }
            }
        }
    }

    private sealed class Subscription(string topic, Action<ChildMessage> handler) : IDisposable
    {
        internal string Topic { get; } = topic;

        internal Action<ChildMessage> Handler { get; } = handler;

        internal bool IsDisposed { get; private set; }

        public void Dispose()
        {
            IsDisposed = true;
            lock (Gate)
            {
                subscriptions = Array.FindAll(subscriptions, s => s != this);
            }
        }
    }
}
