using System.Collections.Concurrent;
using PProcess.Native;

namespace PProcess;

/// <summary>
/// parallel-queue's ParallelQueue: jobs put by a producer thread run in parallel, and a consumer
/// thread gets their results in exactly the order they were put. A value that is not a job passes
/// through in its place (a batch marker, say). At most <see cref="BufferSize"/> values are in the
/// pipeline (put and not yet got): a slow job holds up the output, and the producer only blocks
/// once that buffer is full. A job's exception is raised by <see cref="Get"/> at the job's place,
/// with the worker's stack.
/// </summary>
/// <remarks>
/// The pipeline runs its jobs on a <see cref="WorkerPool"/> whose workers it forks when it is
/// constructed. Construct it before the producer and consumer threads start (docs/fork-safety.md
/// rule 2): after that, nothing forks except the pool replacing a dead worker. So a job is a static
/// method or a lambda that captures nothing, with serialisable arguments, as in parallel-queue,
/// whose jobs had to be picklable. <see cref="Put{TArgs, TResult}"/> and <see cref="Get"/> are
/// thread-safe; the order is the order in which <c>Put</c> calls returned.
/// </remarks>
public sealed class OrderedPipeline : IDisposable, IAsyncDisposable
{
    private readonly WorkerPool pool;
    private readonly ConcurrentQueue<Task<object?>> pipeline = new();
    private readonly SemaphoreSlim free;
    private readonly SemaphoreSlim filled = new(0);

    /// <summary>Cancelled by <see cref="Stop"/> and <see cref="Dispose"/>: releases a producer waiting for room.</summary>
    private readonly CancellationTokenSource stopping = new();
    private readonly object putGate = new();
    private readonly object getGate = new();
    private volatile bool stopped;
    private bool disposed;

    /// <summary>
    /// Forks the workers (<see cref="OrderedPipelineOptions.Workers"/>, default <see cref="Cores.Usable"/>)
    /// of a pipeline that holds <see cref="OrderedPipelineOptions.BufferSize"/> values (default ten
    /// times the number of cores, as in parallel-queue).
    /// </summary>
    /// <param name="options">The workers, the buffer and the channel settings; by default <see cref="OrderedPipelineOptions"/>'s.</param>
    public OrderedPipeline(OrderedPipelineOptions? options = null)
    {
        options = options is null ? new OrderedPipelineOptions() : ChannelOptions.Snapshot(options);
        BufferSize = options.BufferSize ?? 10 * Cores.Usable;
        free = new SemaphoreSlim(BufferSize);
        var poolOptions = options.ChannelSettings<WorkerPoolOptions>();
        poolOptions.Workers = options.Workers;
        pool = new WorkerPool(poolOptions);
    }

    /// <summary>How many values may be in the pipeline (put, not yet got) before <c>Put</c> blocks.</summary>
    public int BufferSize { get; }

    /// <summary>Values put and not yet got.</summary>
    public int Count => pipeline.Count;

    /// <summary>The workers' pids (for diagnostics).</summary>
    public IReadOnlyList<int> WorkerPids => pool.WorkerPids;

    /// <summary>True until <see cref="Join"/> has shut the workers down (or the pipeline is disposed).</summary>
    public bool IsAlive => !disposed;

    /// <summary>
    /// Puts a job: <paramref name="job"/> will run on <paramref name="arguments"/> in a worker.
    /// Blocks while the buffer is full; <see cref="TimeoutException"/> if it stays full for
    /// <paramref name="timeout"/> (null: wait for ever); <see cref="OperationCanceledException"/>
    /// if <paramref name="cancellationToken"/> is cancelled first.
    /// </summary>
    public void Put<TArgs, TResult>(Func<TArgs, TResult> job, TArgs arguments, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        Enqueue(timeout, () => Box(pool.SubmitAsync(job, arguments)), cancellationToken);
    }

    /// <summary>
    /// Puts a value that passes through in order, unchanged (parallel-queue's non-callables).
    /// A delegate is refused: a job needs its arguments (<see cref="Put{TArgs, TResult}"/>).
    /// </summary>
    public void Put(object? value, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (value is Delegate)
        {
            throw new ArgumentException("A job goes with its arguments: Put(job, arguments). Only plain values pass through.", nameof(value));
        }
        Enqueue(timeout, () => Task.FromResult(value), cancellationToken);
    }

    private void Enqueue(TimeSpan? timeout, Func<Task<object?>> make, CancellationToken cancellationToken)
    {
        ThrowIfStopped();
        bool room;
        try
        {
            using var either = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token, cancellationToken);
            room = free.Wait(timeout ?? Timeout.InfiniteTimeSpan, either.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopped or disposed while this producer waited for room: it must not wait for ever.
            ThrowIfStopped();
            throw;
        }
        if (!room)
        {
            throw new TimeoutException($"The pipeline's buffer of {BufferSize} stayed full for {timeout}.");
        }
        try
        {
            lock (putGate)
            {
                ThrowIfStopped();
                pipeline.Enqueue(make());
            }
        }
        catch
        {
            free.Release();
            throw;
        }
        filled.Release();
    }

    private static async Task<object?> Box<T>(Task<T> task) => await task.ConfigureAwait(false);

    /// <summary>
    /// The next result in put order, waiting up to <paramref name="timeout"/> (null: for ever):
    /// <see cref="TimeoutException"/> if it is not there by then (nothing is lost: the next call
    /// gets it). A job that threw raises its exception here (a <see cref="RemoteException"/>, or a
    /// <see cref="ChildExitedException"/> if its worker died), once; the next call goes on after it.
    /// <see cref="InvalidOperationException"/> once the pipeline is stopped and empty.
    /// A cancelled <paramref name="cancellationToken"/> raises <see cref="OperationCanceledException"/>.
    /// </summary>
    public object? Get(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (TryGet(timeout, out var value, cancellationToken))
        {
            return value;
        }
        if (stopped && pipeline.IsEmpty)
        {
            throw new InvalidOperationException("The pipeline is stopped and every value has been got.");
        }
        throw new TimeoutException($"No result within {timeout}.");
    }

    /// <summary>As <see cref="Get"/>, but returns false at the timeout (null: none), or when stopped and empty.</summary>
    public bool TryGet(TimeSpan? timeout, out object? value, CancellationToken cancellationToken = default)
    {
        var deadline = Deadline.After(timeout);
        lock (getGate)
        {
            while (true)
            {
                if (pipeline.TryPeek(out var head))
                {
                    if (!Finished(head, deadline.Remaining ?? Timeout.InfiniteTimeSpan, cancellationToken))
                    {
                        value = null;
                        return false;
                    }
                    filled.Wait(0);
                    pipeline.TryDequeue(out _);
                    free.Release();
                    value = head.GetAwaiter().GetResult();
                    return true;
                }
                if (stopped)
                {
                    value = null;
                    return false;
                }
                if (!filled.Wait(deadline.Remaining ?? Timeout.InfiniteTimeSpan, cancellationToken))
                {
                    value = null;
                    return false;
                }
                // Put the count back: the loop takes it with the value.
                filled.Release();
            }
        }
    }

    /// <summary>Waits for a task without raising its exception (Get raises it at its place).</summary>
    private static bool Finished(Task task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            return task.Wait(timeout, cancellationToken);
        }
        catch (AggregateException)
        {
            return true;
        }
    }

    /// <summary>No more values may be put; values already in the pipeline can still be got. Returns at once.</summary>
    public void Stop()
    {
        lock (putGate)
        {
            stopped = true;
        }
        stopping.Cancel();
        // Wake a consumer that waits for a value that will never be put.
        filled.Release();
    }

    /// <summary>
    /// After <see cref="Stop"/>: waits until every job put has finished (their results stay
    /// available to <see cref="Get"/>), then ends the workers. False if that took longer than
    /// <paramref name="timeout"/> (the workers are left running).
    /// </summary>
    public bool Join(TimeSpan? timeout = null)
    {
        if (!stopped)
        {
            throw new InvalidOperationException("Join waits for a stopped pipeline: call Stop first.");
        }
        var pending = pipeline.ToArray();
        try
        {
            if (!Task.WaitAll(pending, timeout ?? Timeout.InfiniteTimeSpan))
            {
                return false;
            }
        }
        catch (AggregateException)
        {
            // A failed job has finished too; Get raises its exception at its place.
        }
        Dispose();
        return true;
    }

    private void ThrowIfStopped()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (stopped)
        {
            throw new InvalidOperationException("The pipeline is stopped: nothing more can be put.");
        }
    }

    /// <summary>Ends the workers; jobs still running fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        stopping.Cancel();
        pool.Dispose();
    }

    /// <summary><see cref="Dispose"/> without blocking the caller, which waits for the workers to end.</summary>
    public ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return ValueTask.CompletedTask;
        }
        disposed = true;
        stopping.Cancel();
        return pool.DisposeAsync();
    }
}
