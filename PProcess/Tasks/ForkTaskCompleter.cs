using PProcess.Channels;
using PProcess.Native;
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
    /// <summary>The forked tasks' channels, each with what completes its task; callers wake the thread.</summary>
    private readonly ChannelSet<Action<Channel>> set = new(wakeable: true);
    private readonly List<(Channel Channel, Action<Channel> Finish)> added = [];
    private readonly object addGate = new();

    private readonly Thread thread;

    private ForkTaskCompleter()
    {
        thread = new Thread(Loop) { IsBackground = true, Name = "PProcess fork tasks" };
        thread.Start();
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

    /// <summary>Forks requested by callers, made on the completer's thread.</summary>
    private readonly List<ForkRequest> forks = [];

    /// <summary>A fork to make on the completer's thread, and where its channel or error goes.</summary>
    private sealed class ForkRequest(Func<Channel> spawn)
    {
        internal Func<Channel> Spawn { get; } = spawn;

        internal Channel? Channel { get; set; }

        internal Exception? Error { get; set; }

        /// <summary>No spinning: the caller sleeps at once, so it does not delay the quiescence wait of its own fork.</summary>
        internal ManualResetEventSlim Done { get; } = new(false, 0);
    }

    /// <summary>
    /// Forks on the completer's thread and returns the channel (or throws what the fork threw).
    /// A child's PR_SET_PDEATHSIG fires when the <em>thread</em> that forked it ends, not the
    /// process (docs/fork-safety.md, fact 15). A fork made on a thread-pool thread,
    /// which retires when idle, would have its child killed; the completer's thread lives as long
    /// as the process. The caller sleeps meanwhile, so it is quiescent.
    /// </summary>
    internal Channel Fork(Func<Channel> spawn)
    {
        if (Thread.CurrentThread == thread)
        {
            // A continuation run inline on this thread (in a child, where continuations are not
            // posted to a pool) that forks again: waiting for this thread would wait for ever.
            return spawn();
        }
        var request = new ForkRequest(spawn);
        lock (addGate)
        {
            forks.Add(request);
        }
        set.Wake();
        request.Done.Wait();
        request.Done.Dispose();
        return request.Channel ?? throw request.Error!;
    }

    /// <summary>A forked task waiting for its fork: how to make it, what to do with its channel, and its task's failure.</summary>
    /// <param name="Spawn">Forks the child (on the completer's thread).</param>
    /// <param name="Started">Given the child's channel, arranges its watch; returns what completes the task once the channel is readable.</param>
    /// <param name="Failed">Fails (or cancels) the task when the fork fails or is cancelled before it is made.</param>
    /// <param name="Token">Cancels the fork while it waits for room.</param>
    internal sealed record PendingFork(Func<Channel> Spawn, Func<Channel, Action<Channel>> Started, Action<Exception> Failed, CancellationToken Token)
    {
        /// <summary>Set once the task was cancelled while waiting: it is skipped.</summary>
        internal volatile bool Abandoned;

        /// <summary>While the fork waits: cancels its task if the token is cancelled.</summary>
        internal CancellationTokenRegistration WhileWaiting;
    }

    /// <summary>The children of one <see cref="ForkTaskOptions"/> (or of those made without options): how many run, and the forks waiting for room.</summary>
    private sealed class Group(int limit)
    {
        internal int Limit { get; } = limit;

        internal int Running { get; set; }

        internal Queue<PendingFork> Waiting { get; } = new();
    }

    private readonly Dictionary<object, Group> groups = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Forks a task's child if its group has room, on the completer's thread while the caller waits
    /// (so that the child sees the parent's memory as it is at the call); otherwise queues the fork,
    /// made on the completer's thread when a child of the group has ended and been reaped.
    /// </summary>
    internal void Start(object key, int limit, PendingFork fork)
    {
        Group? group;
        bool now;
        lock (addGate)
        {
            if (!groups.TryGetValue(key, out group))
            {
                groups[key] = group = new Group(limit);
            }
            now = group.Running < group.Limit && group.Waiting.Count == 0;
            if (now)
            {
                group.Running++;
            }
            else
            {
                group.Waiting.Enqueue(fork);
            }
        }
        if (!now)
        {
            // Cancelled while waiting: the task is cancelled at once, and the fork skipped when its turn comes.
            fork.WhileWaiting = fork.Token.UnsafeRegister(static state =>
            {
                var waiting = (PendingFork)state!;
                waiting.Abandoned = true;
                waiting.Failed(new OperationCanceledException(waiting.Token));
            }, fork);
            return;
        }
        Channel channel;
        try
        {
            channel = Fork(fork.Spawn);
        }
        catch (Exception e)
        {
            Release(group);
            fork.Failed(e);
            return;
        }
        Launch(group, fork, channel);
    }

    /// <summary>The child is forked: its task completes when its channel is readable, and its group's room is given back after.</summary>
    private void Launch(Group group, PendingFork fork, Channel channel)
    {
        var finish = fork.Started(channel);
        Watch(channel, c =>
        {
            try
            {
                finish(c);
            }
            finally
            {
                Release(group);
            }
        });
    }

    /// <summary>A child of <paramref name="group"/> has ended (or its fork failed): room for a waiting fork, which the completer's thread makes.</summary>
    private void Release(Group group)
    {
        lock (addGate)
        {
            group.Running--;
        }
        set.Wake();
    }

    /// <summary>On the completer's thread: the waiting forks for which there is room now.</summary>
    private void StartWaiting()
    {
        while (Next() is var (group, fork) && group is not null)
        {
            // Outside the lock: a cancellation callback running now completes a task, whose inline continuation (in a child) may fork.
            fork.WhileWaiting.Dispose();
            if (fork.Abandoned)
            {
                Release(group);
                continue;
            }
            Channel channel;
            try
            {
                channel = fork.Spawn();
            }
            catch (Exception e)
            {
                Release(group);
                fork.Failed(e);
                continue;
            }
            Launch(group, fork, channel);
        }
    }

    /// <summary>A waiting fork of a group with room, its place taken; (null, null) when there is none.</summary>
    private (Group? Group, PendingFork Fork) Next()
    {
        lock (addGate)
        {
            foreach (var group in groups.Values)
            {
                if (group.Running < group.Limit && group.Waiting.TryDequeue(out var next))
                {
                    group.Running++;
                    return (group, next);
                }
            }
        }
        return (null, null!);
    }

    /// <summary>Watches <paramref name="channel"/>; <paramref name="finish"/> runs on the completer's thread once it is readable.</summary>
    internal void Watch(Channel channel, Action<Channel> finish)
    {
        lock (addGate)
        {
            added.Add((channel, finish));
        }
        set.Wake();
    }

    private void MakeForks()
    {
        ForkRequest[] pending;
        lock (addGate)
        {
            if (forks.Count == 0)
            {
                return;
            }
            pending = [.. forks];
            forks.Clear();
        }
        foreach (var request in pending)
        {
            try
            {
                request.Channel = request.Spawn();
            }
            catch (Exception e)
            {
                request.Error = e;
            }
            request.Done.Set();
        }
    }

    private void Loop()
    {
        while (true)
        {
            try
            {
                Pass();
            }
            catch (Exception e)
            {
                FailEverything(e);
            }
        }
    }

    /// <summary>
    /// Something in the loop itself failed (not a task: each finish catches its own errors): no
    /// caller may be left waiting, so every pending fork fails with it and every watched child is
    /// closed, which makes its task fail with an error instead of never completing.
    /// </summary>
    private void FailEverything(Exception error)
    {
        lock (addGate)
        {
            foreach (var request in forks)
            {
                request.Error = new InvalidOperationException($"The fork-task thread failed: {error.Message}", error);
                request.Done.Set();
            }
            forks.Clear();
            foreach (var (channel, finish) in added)
            {
                set.Add(channel, finish);
            }
            added.Clear();
        }
        foreach (var (channel, finish) in set.Entries.ToArray())
        {
            set.Remove(channel);
            channel.Dispose();
            finish(channel);
        }
    }

    private readonly List<ChannelSet<Action<Channel>>.Entry> ready = [];
    private readonly List<ChannelSet<Action<Channel>>.Entry> ended = [];

    private void Pass()
    {
        MakeForks();
        StartWaiting();
        lock (addGate)
        {
            foreach (var (channel, finish) in added)
            {
                set.Add(channel, finish);
            }
            added.Clear();
        }
        set.Wait(Deadline.Never, ready, ended);
        // A task's channel carries one result, or ends: either way its finish runs once, and it is watched no more.
        foreach (var (channel, finish) in ready)
        {
            set.Remove(channel);
            finish(channel);
        }
        foreach (var (channel, finish) in ended)
        {
            finish(channel);
        }
    }
}
