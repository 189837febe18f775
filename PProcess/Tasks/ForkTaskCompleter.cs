using Mono.Unix.Native;
using PProcess.Pools;
using PProcess.Runtime;

namespace PProcess.Tasks;

/// <summary>
/// One thread per process that waits (libc poll) on the channels of forked tasks and completes
/// each task when its child's result or exception arrives. It is not a thread-pool thread: in a
/// forked child, where the pool's threads do not exist (docs/fork-safety.md rule 4), a child
/// makes its own completer on its first forked task.
/// </summary>
internal sealed class ForkTaskCompleter
{
    private static ForkTaskCompleter? current;
    private static readonly object Gate = new();

    private readonly int ownerPid = ProcessIdentity.Current;
    private readonly WakePipe wake = new();
    private readonly List<(Channel Channel, Action<Channel> Finish)> waiting = [];
    private readonly List<(Channel Channel, Action<Channel> Finish)> added = [];
    private readonly object addGate = new();

    private ForkTaskCompleter()
    {
        new Thread(Loop) { IsBackground = true, Name = "PProcess fork tasks" }.Start();
    }

    /// <summary>This process's completer (a child inherits its parent's object, but not its thread).</summary>
    internal static ForkTaskCompleter ForThisProcess()
    {
        lock (Gate)
        {
            if (current is null || current.ownerPid != ProcessIdentity.Current)
            {
                current = new ForkTaskCompleter();
            }
            return current;
        }
    }

    /// <summary>Watches <paramref name="channel"/>; <paramref name="finish"/> runs on the completer's thread once it is readable.</summary>
    internal void Watch(Channel channel, Action<Channel> finish)
    {
        lock (addGate)
        {
            added.Add((channel, finish));
        }
        wake.Signal();
    }

    private void Loop()
    {
        while (true)
        {
            lock (addGate)
            {
                waiting.AddRange(added);
                added.Clear();
            }
            var fds = new Pollfd[waiting.Count + 1];
            fds[0] = new Pollfd { fd = wake.PollDescriptor, events = PollEvents.POLLIN };
            for (int i = 0; i < waiting.Count; i++)
            {
                fds[i + 1] = new Pollfd { fd = waiting[i].Channel.FileDescriptor, events = PollEvents.POLLIN };
            }
            Exchanges.Poller.Wait(fds, null);
            if (fds[0].revents != 0)
            {
                wake.Drain();
            }
            for (int i = waiting.Count - 1; i >= 0; i--)
            {
                if (fds[i + 1].revents != 0)
                {
                    var (channel, finish) = waiting[i];
                    waiting.RemoveAt(i);
                    finish(channel);
                }
            }
        }
    }
}
