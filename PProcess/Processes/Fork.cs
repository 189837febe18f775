using System.Diagnostics.CodeAnalysis;
using PProcess.Native;
using PProcess.Processes;
using PProcess.Runtime;
using PProcess.Serialization;
using PProcess.Transports;

namespace PProcess;

/// <summary>
/// Creating child processes: pprocess's module-level <c>create</c>, <c>start</c> and <c>exit</c>.
/// Every fork first checks that the process is safe to fork (<see cref="ForkSafetyException"/>),
/// and every child resets the runtime's signal handlers, dies with its parent, and leaves with
/// <c>_exit</c> (docs/fork-safety.md).
/// </summary>
public static class Fork
{
    /// <summary>The transport of channels whose settings name none: the socket transport (the test suite runs its scenarios over shared memory too).</summary>
    internal static ChannelTransportKind DefaultTransport => TestHooks.DefaultTransport;

    /// <summary>True in a process that this library forked.</summary>
    public static bool IsChild => ChildRuntime.IsChild;

    /// <summary>
    /// In a child: the job it runs, as its parent's errors name it ("Program.Work(3)"; in a PMap child,
    /// the element it is computing: "#7 lambda in Program.Main(7)"); null in a process that is not a child.
    /// </summary>
    public static string? CurrentJob => ChildRuntime.IsChild ? Runtime.CurrentJob.Describe() : null;

    /// <summary>
    /// How many forks this process made again because the child could not start safely: another
    /// thread ran while the fork was made, or the child found a runtime lock held, or it got stuck
    /// before its job began (docs/fork-safety.md, "How a fork is made"). The job runs once either way.
    /// </summary>
    public static long Retries => ForkPoint.Retries;

    /// <summary>Why the last (up to 20) retried forks were made again, the newest last.</summary>
    public static IReadOnlyList<string> RecentRetryReasons => ForkPoint.RecentRetryReasons;

    /// <summary>
    /// Registers actions run around every fork this library makes, in the spirit of Python's
    /// <c>os.register_at_fork</c>: <paramref name="before"/> in the parent before the fork (the
    /// newest registration first), <paramref name="afterInParent"/> in the parent after it, made or
    /// failed, and <paramref name="afterInChild"/> in each new child, once its runtime is set up and
    /// before any of its user code (both in order of registration). Dispose the result to remove them.
    /// </summary>
    /// <remarks>
    /// What may run there (docs/fork-safety.md, "At-fork hooks"): the hooks run on the thread that
    /// forks, one fork at a time. <paramref name="before"/> may start a thread (it is asleep by the
    /// time the fork is made); an exception from it fails the fork, and none from
    /// <paramref name="afterInParent"/> is lost (the fork fails with it, its child killed and reaped).
    /// In the child only the forking thread exists: <paramref name="afterInChild"/> must not wait for
    /// another thread of the parent (a lock one of them held at the fork, a queue one of them
    /// drained, <c>GC.WaitForPendingFinalizers</c>), and should be short; an exception from it ends
    /// the child with exit code 70 and the exception on its standard error, which the parent quotes.
    /// </remarks>
    /// <returns>The registration; disposing it removes the hooks (a fork already under way may still run them once).</returns>
    public static IDisposable RegisterAtFork(Action? before = null, Action? afterInParent = null, Action? afterInChild = null)
    {
        if (before is null && afterInParent is null && afterInChild is null)
        {
            throw new ArgumentException("RegisterAtFork needs at least one action: before, afterInParent or afterInChild.");
        }
        // The child's hook is compiled now, in the parent: children inherit it compiled (fork-safety rule 9).
        ChildPath.Prepare(afterInChild);
        return AtForkHooks.Add(before, afterInParent, afterInChild);
    }

    /// <summary>
    /// Forks once and returns the channel in both processes: in the parent it leads to the child
    /// (<see cref="Channel.Pid"/> is the child's pid); in the child it leads to the parent
    /// (<see cref="Channel.IsChild"/> is true). The child must end with <see cref="Exit"/>.
    /// </summary>
    /// <param name="options">The channel's serializer, transport and grace; by default <see cref="ChannelOptions"/>'s.</param>
    public static Channel Create(ChannelOptions? options = null) =>
        Spawn(null, "Fork.Create()", options ?? ChannelOptions.Default);

    /// <summary>
    /// Forks a child that runs <paramref name="callable"/> with its channel, sends the parent any
    /// exception it throws, and exits. Returns the parent's channel to the child.
    /// </summary>
    /// <param name="callable">The child's work.</param>
    /// <param name="options">The channel's serializer, transport and grace; by default <see cref="ChannelOptions"/>'s.</param>
    public static Channel Start(Action<Channel> callable, ChannelOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Tasks.AsyncJobs.RefuseAsync(callable, "Fork.Start");
        return Spawn(callable, JobNames.Describe(callable), options ?? ChannelOptions.Default);
    }

    /// <summary>Like <see cref="Start(Action{Channel}, ChannelOptions?)"/>, passing one argument.</summary>
    public static Channel Start<T1>(Action<Channel, T1> callable, T1 arg1) =>
        Spawn(c => callable(c, arg1), JobNames.Describe(callable, arg1), ChannelOptions.Default, callable);

    /// <summary>Like <see cref="Start(Action{Channel}, ChannelOptions?)"/>, passing two arguments.</summary>
    public static Channel Start<T1, T2>(Action<Channel, T1, T2> callable, T1 arg1, T2 arg2) =>
        Spawn(c => callable(c, arg1, arg2), JobNames.Describe(callable, arg1, arg2), ChannelOptions.Default, callable);

    /// <summary>Like <see cref="Start(Action{Channel}, ChannelOptions?)"/>, passing three arguments.</summary>
    public static Channel Start<T1, T2, T3>(Action<Channel, T1, T2, T3> callable, T1 arg1, T2 arg2, T3 arg3) =>
        Spawn(c => callable(c, arg1, arg2, arg3), JobNames.Describe(callable, arg1, arg2, arg3), ChannelOptions.Default, callable);

    /// <summary>
    /// In a child: closes the channel, flushes the child's console output and ends the child with
    /// <c>_exit(code)</c>, so that none of the parent's exit logic runs in it.
    /// </summary>
    [DoesNotReturn]
    public static void Exit(Channel channel, int code = 0)
    {
        ArgumentNullException.ThrowIfNull(channel);
        if (!ChildRuntime.IsChild)
        {
            throw new InvalidOperationException("Fork.Exit ends a forked child; this process is not one.");
        }
        channel.Close();
        ChildRuntime.Exit(code);
    }

    /// <summary>
    /// The one place that forks. With a body, the child runs it and never returns; without one,
    /// the child gets its channel back.
    /// </summary>
    /// <paramref name="callable"/>: the job's own delegate (for a MakeParallel job, the plain function
    /// it wraps), compiled here so that children inherit it compiled. <paramref name="dieWithParent"/>
    /// is false only for a background process (Persistence/), which must outlive the process that starts it.
    /// <paramref name="sharing"/>: told what the parent's heap held at the fork, and how long it
    /// collected before it (<see cref="HeapSharing.BeforeFork"/>).
    internal static Channel Spawn(Action<Channel>? body, string? job, ChannelOptions options, Delegate? callable = null,
        bool dieWithParent = true, SharingInsights? sharing = null)
    {
        ForkGuard.ThrowIfUnsafe();
        if ((callable ?? body) is { } work)
        {
            Tasks.AsyncJobs.RefuseAsync(work, "A fork");
        }
        ChildPath.Prepare(body, options.Transport);
        ChildPath.Prepare(callable);
        ChildPath.PrepareResults(callable?.Method.ReturnType);
        var ends = ChannelEnds.Create(options);
        // Registered before the fork: a child that another thread forks meanwhile closes them, and
        // does not keep this channel open after this child ends (its parent would wait for ever
        // for the end of the stream). This fork's own child keeps them.
        var fds = ends.Descriptors;
        for (int i = 0; i < fds.Length; i++)
        {
            DescriptorRegistry.Add(fds[i]);
        }
        ChildProcess? child;
        try
        {
            if (options.KeepHeapShared)
            {
                var collected = HeapSharing.SettleTime;
                long heap = HeapSharing.BeforeFork();
                sharing?.Forked(heap, HeapSharing.SettleTime - collected);
            }
            child = ForkPoint.Fork(dieWithParent, fds, options.KeepHeapShared);
        }
        catch
        {
            ends.Abandon();
            throw;
        }
        if (child is null)
        {
            Runtime.CurrentJob.Set(job);
            var childEnd = ends.Child();
            // A grandchild closes this end too: otherwise it would keep the channel to this
            // child's parent open after this child ends.
            Register(childEnd);
            var channel = new Channel(childEnd, null, job, options.Serializer, toParent: true, maxMessageSize: options.MaxMessageSize);
            if (body is null)
            {
                return channel;
            }
            RunAndExit(body, channel);
        }
        var parentEnd = ends.Parent();
        Register(parentEnd);
        return new Channel(parentEnd, child, job, options.Serializer, exitGrace: options.ExitGrace, maxMessageSize: options.MaxMessageSize);
    }

    private static void Register(IChannelTransport transport)
    {
        var fds = transport.Descriptors;
        for (int i = 0; i < fds.Length; i++)
        {
            DescriptorRegistry.Add(fds[i]);
        }
    }

    [DoesNotReturn]
    private static void RunAndExit(Action<Channel> body, Channel channel)
    {
        int code = 0;
        try
        {
            body(channel);
        }
        catch (Exception e)
        {
            code = ExitCodes.JobThrew;
            try
            {
                channel.SendError(e);
            }
            catch (Exception)
            {
                // The parent is gone or the channel broke: the exit code still tells.
            }
        }
        channel.Close();
        ChildRuntime.Exit(code);
    }
}
