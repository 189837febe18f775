using System.Runtime.CompilerServices;
using PProcess.Runtime;
using PProcess.Tasks;
using PProcess.Processes;

namespace PProcess;

/// <summary>
/// xfork's <c>fork</c> as a <see cref="Task{TResult}"/>: <see cref="Run{TResult}(Func{TResult})"/> forks a child
/// that computes the function (CPU-bound work, in parallel with the caller), and the task
/// completes when the child's result arrives. It composes with <c>await</c> and <see cref="Task.WhenAll(Task[])"/>
/// (and IO-bound work, which needs no fork, with <see cref="Task.Run(Action)"/>).
/// </summary>
/// <remarks>
/// Rules (docs/tutorial.md, "Awaitable forks"): <see cref="Run{TResult}(Func{TResult})"/> forks at the call, on
/// the library's completer thread while the caller sleeps (a child is killed when the thread that
/// forked it ends, and thread-pool threads retire), so call it from a quiescent process
/// (fork-safety rule 2; the library waits up to 5 s for other threads to sleep). Completion comes from a thread of the library's,
/// not from the thread pool. In the parent, continuations run asynchronously (on the thread pool);
/// in a forked child, which has no thread pool, block on the task (<c>GetAwaiter().GetResult()</c>)
/// instead of awaiting it.
/// </remarks>
public static class ForkTask
{
    /// <summary>
    /// Forks a child that runs <paramref name="function"/> and sends its result. The task
    /// completes with that result, or fails with a <see cref="RemoteException"/> (the child's
    /// exception, type, message and stack) or a <see cref="ChildExitedException"/> (the child
    /// died). The child sees the parent's memory as it was at the call (copy-on-write); only the
    /// result crosses back, so it must be serialisable. At most <see cref="Cores.Usable"/> children
    /// of the forks made without options are alive at once: a fork past that waits, its task pending
    /// (<see cref="ForkTaskOptions.Limit"/>).
    /// </summary>
    public static Task<TResult> Run<TResult>(Func<TResult> function) => Run(function, null, CancellationToken.None);

    /// <summary>
    /// As <see cref="Run{TResult}(Func{TResult})"/>; when <paramref name="cancellationToken"/> is
    /// cancelled, the child is killed (SIGKILL) and reaped, and the task is cancelled. A token
    /// already cancelled forks nothing.
    /// </summary>
    public static Task<TResult> Run<TResult>(Func<TResult> function, CancellationToken cancellationToken) => Run(function, null, cancellationToken);

    /// <summary>
    /// As <see cref="Run{TResult}(Func{TResult}, CancellationToken)"/>, with the channel's settings and a
    /// limit of children alive at once shared by the forks made with the same <paramref name="options"/>.
    /// </summary>
    public static Task<TResult> Run<TResult>(Func<TResult> function, ForkTaskOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(function);
        AsyncJobs.RefuseTaskResult<TResult>("ForkTask.Run",
            "Give it an async function (async () => { await ...; return result; }), or one returning Task<T>: ForkTask.Run awaits it in the child.");
        return Start<TResult>(function, c => c.Send(function()), options, cancellationToken);
    }

    /// <summary>
    /// Forks a child that runs the asynchronous <paramref name="function"/> and awaits it there (the
    /// child's own thread pool runs its continuations); the task completes with its result. Otherwise
    /// as <see cref="Run{TResult}(Func{TResult}, ForkTaskOptions?, CancellationToken)"/>.
    /// </summary>
    [OverloadResolutionPriority(1)] // an async lambda converts to Func<Task<T>> and Func<T> alike: the awaited one is meant
    public static Task<TResult> Run<TResult>(Func<Task<TResult>> function, ForkTaskOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(function);
        return Start<TResult>(function, c => c.Send(AsyncJobs.Await(function())), options, cancellationToken);
    }

    /// <summary>As <see cref="Run{TResult}(Func{Task{TResult}}, ForkTaskOptions?, CancellationToken)"/>.</summary>
    [OverloadResolutionPriority(1)]
    public static Task<TResult> Run<TResult>(Func<Task<TResult>> function, CancellationToken cancellationToken) => Run(function, null, cancellationToken);

    /// <summary>
    /// Forks a child that runs the asynchronous <paramref name="function"/>, which has no result, and
    /// awaits it there; the task completes when it has, or fails with its exception or the child's death.
    /// </summary>
    [OverloadResolutionPriority(1)] // else Run<TResult>(Func<TResult>) with a Task for TResult is taken, and refused
    public static Task Run(Func<Task> function, ForkTaskOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(function);
        return Start<object?>(function, c =>
        {
            function().GetAwaiter().GetResult();
            c.Send(null);
        }, options, cancellationToken);
    }

    /// <summary>As <see cref="Run(Func{Task}, ForkTaskOptions?, CancellationToken)"/>.</summary>
    [OverloadResolutionPriority(1)]
    public static Task Run(Func<Task> function, CancellationToken cancellationToken) => Run(function, null, cancellationToken);

    /// <summary>The key of the limit that the forks made without options share.</summary>
    private static readonly object WithoutOptions = new();

    private static Task<TResult> Start<TResult>(Delegate function, Action<Channel> body, ForkTaskOptions? options, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TResult>(cancellationToken);
        }
        var done = new TaskCompletionSource<TResult>(Options);
        var completer = ForkTaskCompleter.ForThisProcess();
        // The channel settings as they are at the call (the fork may wait for the limit); the options object itself keys the limit.
        var channelOptions = options?.ChannelSettings() ?? ChannelOptions.Default;
        // Forked on the completer's long-lived thread: a child dies with the thread that forked it.
        // An async function is awaited by the body: the fork is given it to compile, not to check as a job of its own.
        bool awaited = AsyncJobs.IsAwaitable(function.Method.ReturnType);
        if (awaited)
        {
            ChildPath.Prepare(function);
        }
        string job = JobNames.Describe(function);
        completer.Start(options ?? WithoutOptions, options?.Limit ?? Cores.Usable, new ForkTaskCompleter.PendingFork(
            () => Fork.Spawn(body, job, channelOptions, awaited ? null : function),
            channel => Watch(channel, done, cancellationToken),
            failure =>
            {
                if (failure is OperationCanceledException && cancellationToken.IsCancellationRequested)
                {
                    done.TrySetCanceled(cancellationToken);
                }
                else
                {
                    done.TrySetException(failure);
                }
            },
            cancellationToken));
        return done.Task;
    }

    /// <summary>Once the child is forked: a cancellation kills it, and what completes the task when its channel is readable.</summary>
    private static Action<Channel> Watch<TResult>(Channel channel, TaskCompletionSource<TResult> done, CancellationToken cancellationToken)
    {
        // kill(2) is safe from any thread; the child's end of stream then wakes the completer.
        var registration = cancellationToken.UnsafeRegister(static state => ((ChildProcess)state!).Kill(), channel.Child!);
        return c =>
        {
            // Waits for a kill in progress; after it, none can come, so the pid is reaped safely below.
            registration.Dispose();
            // The child is reaped before the task completes: a continuation never sees a zombie.
            TResult result;
            try
            {
                result = c.Receive<TResult>();
            }
            catch (Exception e)
            {
                c.Dispose();
                if (cancellationToken.IsCancellationRequested && e is ChildExitedException)
                {
                    done.TrySetCanceled(cancellationToken);
                }
                else
                {
                    done.TrySetException(e);
                }
                return;
            }
            c.Dispose();
            done.TrySetResult(result);
        };
    }

    /// <summary>
    /// Runs <paramref name="function"/> on a new dedicated thread (not the thread pool); the task
    /// completes with its result or its exception. The library's own (a pool's asynchronous disposal).
    /// </summary>
    internal static Task<TResult> RunOnThread<TResult>(Func<TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var done = new TaskCompletionSource<TResult>(Options);
        new Thread(() =>
        {
            try
            {
                done.TrySetResult(function());
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        { IsBackground = true, Name = "PProcess IO task" }.Start();
        return done.Task;
    }

    /// <summary>Asynchronous continuations in the parent; inline ones in a child, which has no thread pool to run them.</summary>
    private static TaskCreationOptions Options => ChildRuntime.IsChild ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously;
}
