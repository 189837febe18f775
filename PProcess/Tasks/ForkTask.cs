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
    /// result crosses back, so it must be serialisable.
    /// </summary>
    public static Task<TResult> Run<TResult>(Func<TResult> function) => Run(function, CancellationToken.None);

    /// <summary>
    /// As <see cref="Run{TResult}(Func{TResult})"/>; when <paramref name="cancellationToken"/> is
    /// cancelled, the child is killed (SIGKILL) and reaped, and the task is cancelled. A token
    /// already cancelled forks nothing.
    /// </summary>
    public static Task<TResult> Run<TResult>(Func<TResult> function, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(function);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TResult>(cancellationToken);
        }
        var done = new TaskCompletionSource<TResult>(Options);
        var completer = ForkTaskCompleter.ForThisProcess();
        // Forked on the completer's long-lived thread: a child dies with the thread that forked it.
        var channel = completer.Fork(() => Fork.Spawn(c => c.Send(function()), JobNames.Describe(function), ChannelOptions.Default, function));
        // kill(2) is safe from any thread; the child's end of stream then wakes the completer.
        var registration = cancellationToken.UnsafeRegister(static state => ((ChildProcess)state!).Kill(), channel.Child!);
        completer.Watch(channel, c =>
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
        });
        return done.Task;
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
