using System.Collections.Concurrent;
using PProcess.Channels;
using PProcess.Native;
using PProcess.Pools;
using PProcess.Processes;
using PProcess.Runtime;
using PProcess.Serialization;

namespace PProcess;

/// <summary>
/// multicore's persistent pool: a fixed number of workers forked once, when the pool is created,
/// each with a state made by the initializer in the worker (one database connection per worker,
/// say) that lives as long as the worker. Afterwards any number of threads may submit jobs
/// concurrently; submitting never forks. A job names a static method (or a lambda that captures
/// nothing) and serialisable arguments, because the workers were forked before the job's data
/// existed. The pool's own thread sends jobs to idle workers and completes their tasks. A worker
/// that dies fails the job it ran (<see cref="ChildExitedException"/>) and is replaced.
/// </summary>
/// <remarks>
/// Create the pool early, while the process is quiescent (before a web host starts its threads;
/// docs/fork-safety.md rule 2). A replacement is forked from the pool's thread after the library's
/// wait for every other thread to sleep, for 250 ms at first: if other threads keep running, the
/// pool runs with fewer workers and retries, backing off (doubling the wait up to 5 s);
/// <see cref="LastReplacementError"/> says why. Threads that block (on a job's result, on I/O)
/// sleep; threads that compute without pause never do, and then no replacement is made.
/// </remarks>
/// <typeparam name="TState">What the initializer makes in each worker.</typeparam>
public class WorkerPool<TState> : IDisposable, IAsyncDisposable
{
    private readonly Func<int, TState>? initializer;
    private readonly PoolWorker?[] workers;
    private readonly ConcurrentQueue<PoolRequest> queue = new();
    /// <summary>The live workers' channels, polled by the pool's thread; submitters wake it.</summary>
    private readonly ChannelSet<PoolWorker> set;
    private readonly Thread dispatcher;
    private readonly object gate = new();
    private readonly int ownerPid;
    private volatile bool disposing;
    private bool closed;
    private int replacements;
    private int failedReplacements;
    private volatile Exception? lastReplacementError;
    private volatile int[] pids;
    /// <summary>What each worker's heap holds, and whether it asks to be replaced (<see cref="HeapSharing"/>).</summary>
    private readonly ChildMemoryBoard memoryBoard;
    /// <summary>The live workers' slots and pids, for <see cref="MeasureSharing"/> on other threads.</summary>
    private volatile (int Index, int Pid)[] live = [];
    /// <summary>Workers replaced by fresh forks, not reaped yet; they owe nothing.</summary>
    private readonly List<ChildProcess> leaving = [];

    /// <summary>
    /// Forks the workers and waits until each has run <paramref name="initializer"/> (with the
    /// worker's index). An initializer that throws in any worker fails the constructor with the
    /// worker's <see cref="RemoteException"/>, and the workers already forked are ended.
    /// </summary>
    public WorkerPool(Func<int, TState>? initializer, WorkerPoolOptions? options = null)
    {
        options ??= new WorkerPoolOptions();
        int count = options.Workers ?? Cores.Usable;
        this.initializer = initializer;
        // Read once: the pool's loops read this copy, never the caller's object.
        Options = ChannelOptions.Snapshot(options);
        ownerPid = ProcessIdentity.Current;
        workers = new PoolWorker?[count];
        pids = [];
        memoryBoard = new ChildMemoryBoard(count);
        // Every child closes the wake-up's descriptor (it is registered).
        set = new ChannelSet<PoolWorker>(wakeable: true);
        // The workers are forked on the pool's own thread, not the caller's: a child's
        // PR_SET_PDEATHSIG fires when the thread that forked it ends (docs/fork-safety.md fact 15),
        // and the pool's thread lives as long as the pool. The caller sleeps meanwhile (no spinning),
        // so the process is as quiescent as it was.
        using var started = new ManualResetEventSlim(false, 0);
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
        dispatcher = new Thread(() =>
        {
            try
            {
                for (int i = 0; i < count; i++)
                {
                    workers[i] = SpawnWorker(i);
                }
                Published();
            }
            catch (Exception e)
            {
                foreach (var w in workers)
                {
                    w?.Channel.Dispose();
                }
                failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
                started.Set();
                return;
            }
            started.Set();
            Dispatch();
        }) { IsBackground = true, Name = "PProcess pool" };
        dispatcher.Start();
        started.Wait();
        if (failure is not null)
        {
            dispatcher.Join();
            set.Dispose();
            memoryBoard.Dispose();
            failure.Throw();
        }
    }

    /// <summary>
    /// What the workers un-share of this process's memory, and how many were replaced to keep it
    /// shared (docs/performance.md, "Copy-on-write that holds"): a replaced worker is measured when
    /// it is replaced, the others by <see cref="MeasureSharing"/>.
    /// </summary>
    public SharingInsights Sharing { get; } = new();

    /// <summary>
    /// Measures each live worker's private memory now (it reads /proc: about 3 ms per 400 MB
    /// worker) and returns <see cref="Sharing"/> with those figures.
    /// </summary>
    public SharingInsights MeasureSharing()
    {
        foreach (var (index, pid) in live)
        {
            var heap = memoryBoard[index].Read();
            // A worker replaced meanwhile has left its slot to another: its figures are not these.
            // Still listed after the read means the slot was not cleared before it (SpawnWorker).
            if (Array.IndexOf(live, (index, pid)) >= 0)
            {
                Measure(pid, heap, replaced: false);
            }
        }
        return Sharing;
    }

    private void Measure(int pid, ChildHeap heap, bool replaced)
    {
        long privateBytes = HeapSharing.PrivateDirty(pid);
        if (privateBytes >= 0)
        {
            Sharing.Measured(new ChildMemory(pid, privateBytes, heap.Inherited, heap.OwnPeak, heap.FullCollections, replaced));
        }
    }

    /// <summary>After a change of workers: the pids and slots other threads read.</summary>
    private void Published()
    {
        pids = workers.Where(w => w is not null).Select(w => w!.Channel.Pid).ToArray();
        live = workers.Where(w => w is not null).Select(w => (w!.Index, w.Channel.Pid)).ToArray();
    }

    /// <summary>The settings the pool was made with: a copy taken by the constructor.</summary>
    internal WorkerPoolOptions Options { get; }

    /// <summary>The number of worker slots.</summary>
    public int Size => workers.Length;

    /// <summary>The pids of the live workers, in slot order (a slot being refilled is left out).</summary>
    public IReadOnlyList<int> WorkerPids => pids;

    /// <summary>How many dead workers have been replaced.</summary>
    public int Replacements => Volatile.Read(ref replacements);

    /// <summary>How many attempts to fork a replacement were refused or failed (each is retried, backing off).</summary>
    public int FailedReplacements => Volatile.Read(ref failedReplacements);

    /// <summary>Why the last attempt to replace a dead worker failed, or null.</summary>
    public Exception? LastReplacementError => lastReplacementError;

    /// <summary>
    /// multicore's load guard: true when the pool has a live worker and the one-minute load
    /// average per core is at most <paramref name="maxLoadAveragePerCore"/> (null: no limit).
    /// When false, run your sequential code path instead.
    /// </summary>
    public bool IsWorthIt(double? maxLoadAveragePerCore) => !disposing && pids.Length > 0 && LoadAverage.Allows(maxLoadAveragePerCore);

    /// <summary>Queues a job that receives the worker's state; the task completes with its result.</summary>
    public Task<TResult> SubmitAsync<TArgs, TResult>(Func<TState, TArgs, TResult> job, TArgs arguments) =>
        Submit<TResult>(PoolJob.Of(job, nameof(job)), arguments, withState: true);

    /// <summary>Queues a job without state; the task completes with its result.</summary>
    public Task<TResult> SubmitAsync<TArgs, TResult>(Func<TArgs, TResult> job, TArgs arguments) =>
        Submit<TResult>(PoolJob.Of(job, nameof(job)), arguments, withState: false);

    /// <summary>Runs a job with the worker's state and waits for its result (or its exception, with the worker's stack).</summary>
    public TResult Run<TArgs, TResult>(Func<TState, TArgs, TResult> job, TArgs arguments) =>
        SubmitAsync(job, arguments).GetAwaiter().GetResult();

    /// <summary>Runs a job without state and waits for its result.</summary>
    public TResult Run<TArgs, TResult>(Func<TArgs, TResult> job, TArgs arguments) =>
        SubmitAsync(job, arguments).GetAwaiter().GetResult();

    /// <summary>Runs the job once per argument, in parallel over the workers; results in the order of <paramref name="arguments"/>.</summary>
    public TResult[] Map<TArgs, TResult>(Func<TState, TArgs, TResult> job, IEnumerable<TArgs> arguments)
    {
        var pj = PoolJob.Of(job, nameof(job));
        ArgumentNullException.ThrowIfNull(arguments);
        return Collect(arguments.Select(a => Submit<TResult>(pj, a, withState: true)).ToArray());
    }

    /// <summary>Runs the job once per argument, without state; results in the order of <paramref name="arguments"/>.</summary>
    public TResult[] Map<TArgs, TResult>(Func<TArgs, TResult> job, IEnumerable<TArgs> arguments)
    {
        var pj = PoolJob.Of(job, nameof(job));
        ArgumentNullException.ThrowIfNull(arguments);
        return Collect(arguments.Select(a => Submit<TResult>(pj, a, withState: false)).ToArray());
    }

    /// <summary>
    /// As <see cref="Map{TArgs, TResult}(Func{TState, TArgs, TResult}, IEnumerable{TArgs})"/>, without blocking the
    /// caller: for a request handler that awaits. Results in the order of <paramref name="arguments"/>.
    /// </summary>
    public Task<TResult[]> MapAsync<TArgs, TResult>(Func<TState, TArgs, TResult> job, IEnumerable<TArgs> arguments)
    {
        var pj = PoolJob.Of(job, nameof(job));
        ArgumentNullException.ThrowIfNull(arguments);
        return Task.WhenAll(arguments.Select(a => Submit<TResult>(pj, a, withState: true)).ToArray());
    }

    /// <summary>
    /// As <see cref="Map{TArgs, TResult}(Func{TState, TArgs, TResult}, IEnumerable{TArgs})"/>, going on
    /// past failed jobs: each argument's <see cref="Outcome{T}"/>, its result or the exception that
    /// ended it (a <see cref="RemoteException"/>, a <see cref="ChildExitedException"/> for a worker that
    /// died running it, or, after <see cref="WorkerPoolOptions.Retries"/>, a <see cref="RetriesExhaustedException"/>),
    /// in the order of <paramref name="arguments"/>.
    /// </summary>
    public Outcome<TResult>[] MapOutcomes<TArgs, TResult>(Func<TState, TArgs, TResult> job, IEnumerable<TArgs> arguments)
    {
        var pj = PoolJob.Of(job, nameof(job));
        ArgumentNullException.ThrowIfNull(arguments);
        return Outcomes(arguments.Select(a => Submit<TResult>(pj, a, withState: true)).ToArray());
    }

    /// <summary>As <see cref="MapOutcomes{TArgs, TResult}(Func{TState, TArgs, TResult}, IEnumerable{TArgs})"/>, without state.</summary>
    public Outcome<TResult>[] MapOutcomes<TArgs, TResult>(Func<TArgs, TResult> job, IEnumerable<TArgs> arguments)
    {
        var pj = PoolJob.Of(job, nameof(job));
        ArgumentNullException.ThrowIfNull(arguments);
        return Outcomes(arguments.Select(a => Submit<TResult>(pj, a, withState: false)).ToArray());
    }

    private static Outcome<TResult>[] Outcomes<TResult>(Task<TResult>[] tasks)
    {
        var outcomes = new Outcome<TResult>[tasks.Length];
        for (int i = 0; i < tasks.Length; i++)
        {
            try
            {
                outcomes[i] = new Outcome<TResult>(i, tasks[i].GetAwaiter().GetResult());
            }
            catch (Exception e)
            {
                outcomes[i] = new Outcome<TResult>(i, e);
            }
        }
        return outcomes;
    }

    private static TResult[] Collect<TResult>(Task<TResult>[] tasks)
    {
        var results = new TResult[tasks.Length];
        for (int i = 0; i < tasks.Length; i++)
        {
            results[i] = tasks[i].GetAwaiter().GetResult();
        }
        return results;
    }

    private Task<TResult> Submit<TResult>(PoolJob job, object? arguments, bool withState)
    {
        var done = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = new PoolRequest(job, arguments, withState, typeof(TResult),
            (value, channel) =>
            {
                try
                {
                    done.TrySetResult(Channel.Cast<TResult>(value, channel));
                }
                catch (InvalidCastException e)
                {
                    done.TrySetException(e);
                }
            },
            e => done.TrySetException(e));
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(closed || disposing, this);
            queue.Enqueue(request);
        }
        set.Wake();
        return done.Task;
    }

    /// <summary>Forks the worker for slot <paramref name="index"/> and waits for its "ready".</summary>
    private PoolWorker SpawnWorker(int index)
    {
        var init = initializer;
        var memory = memoryBoard[index];
        // The slot leaves the live list before it is cleared: MeasureSharing, on another thread,
        // reads a slot and then checks that its worker is still listed, so it never pairs the old
        // worker's memory with the cleared slot (that pairing once counted a worker's own 400 MB as
        // un-shared: HeapSharingTests' pool scenario under load).
        live = Array.FindAll(live, l => l.Index != index);
        memory.Clear();
        long? budget = Options.ChildMemoryBudget;
        var channel = Fork.Spawn(c => PoolWorkerLoop.Serve(c, index, init, memory, budget), $"pool worker {index}", Options, init, sharing: Sharing);
        try
        {
            var hello = channel.Receive();
            if (hello as string != PoolWorkerLoop.Ready)
            {
                throw new ChannelProtocolException($"Pool worker {index} (pid {channel.Pid}) sent {hello ?? "null"} instead of its ready message.");
            }
        }
        catch
        {
            channel.Dispose();
            throw;
        }
        var worker = new PoolWorker(index, channel);
        set.Add(channel, worker);
        return worker;
    }

    /// <summary>The pool's thread: poll the workers and the wake pipe, collect results, replace the dead, hand out jobs.</summary>
    private void Dispatch()
    {
        try
        {
            DispatchLoop();
        }
        catch (Exception e)
        {
            // A failure of the loop itself (poll failing, say) must not take the host down with an
            // unhandled exception on this thread: every job fails with it, and the pool is closed.
            lastReplacementError ??= e;
            var broken = new InvalidOperationException($"The worker pool's thread failed: {e.Message}", e);
            lock (gate)
            {
                closed = true;
            }
            while (queue.TryDequeue(out var request))
            {
                request.Fail(broken);
            }
            foreach (var worker in workers)
            {
                worker?.Current?.Fail(broken);
                if (worker is not null)
                {
                    worker.Current = null;
                }
            }
        }
        Shutdown();
    }

    private void DispatchLoop()
    {
        List<ChannelSet<PoolWorker>.Entry> ready = [], ended = [];
        while (!disposing)
        {
            // A dead worker's slot, and a worker waiting to be replaced, are retried every 200 ms;
            // otherwise results and submitters wake the thread.
            bool missing = (Options.ReplaceDeadWorkers && Array.IndexOf(workers, null) >= 0) || workers.Any(w => w is { Retiring: true });
            set.Wait(missing ? Deadline.After(TimeSpan.FromMilliseconds(200)) : Deadline.Never, ready, ended);
            leaving.RemoveAll(static child => child.TryWait() is not null);
            if (disposing)
            {
                break;
            }
            foreach (var entry in ready)
            {
                Collect(entry.Owner);
            }
            foreach (var entry in ended)
            {
                Collect(entry.Owner);
            }
            Replace();
            HandOut();
        }
    }

    private void Collect(PoolWorker worker)
    {
        var request = worker.Current;
        try
        {
            if (worker.Channel.TryReceive(out var value, request?.ResultType ?? typeof(object)))
            {
                Served(worker);
                request?.Complete(value, worker.Channel);
                return;
            }
            var status = worker.Channel.Status;
            Died(worker, new ChildExitedException(
                $"{ChildProcessException.Describe(worker.Channel.Pid, worker.Channel.Job)} {status} while serving a pool{(request is null ? "" : ", before sending the job's result")}.",
                worker.Channel.Pid, worker.Channel.Job, status ?? default));
        }
        catch (RemoteException e)
        {
            Served(worker);
            if (request is not null)
            {
                Failed(request, e);
            }
        }
        catch (Exception e) when (e is ChildExitedException or ChannelProtocolException or IOException)
        {
            Died(worker, e);
        }
    }

    /// <summary>
    /// A worker answered its job: it is idle, and asks to be replaced if its heap is to be
    /// un-shared, its budget is spent, or it has run its share of jobs (<see cref="WorkerPoolOptions.MaxJobsPerWorker"/>).
    /// </summary>
    private void Served(PoolWorker worker)
    {
        worker.Current = null;
        worker.Jobs++;
        worker.Retiring |= memoryBoard[worker.Index].Read().Retire || worker.Jobs >= Options.MaxJobsPerWorker;
    }

    private void Died(PoolWorker worker, Exception error)
    {
        workers[worker.Index] = null;
        set.Remove(worker.Channel);
        Published();
        if (worker.Current is { } request)
        {
            Failed(request, error);
        }
        worker.Current = null;
        worker.Channel.Dispose();
    }

    /// <summary>A job failed: queued again if <see cref="WorkerPoolOptions.Retries"/> allow, else failed with every attempt's failure.</summary>
    private void Failed(PoolRequest request, Exception error)
    {
        var earlier = request.Attempts;
        bool again;
        try
        {
            again = !disposing && (earlier?.Count ?? 0) < Options.Retries
                && (Options.RetryWhen is { } when ? when(error) : error is ChildExitedException);
        }
        catch (Exception predicate)
        {
            request.Fail(predicate);
            return;
        }
        if (again)
        {
            (request.Attempts ??= []).Add(error);
            queue.Enqueue(request);
            return;
        }
        request.Fail(earlier is null ? error : new RetriesExhaustedException(request.Job.Name, [.. earlier, error]));
    }

    /// <summary>How long the pool's thread waits for quiescence per replacement attempt; doubles after each refusal, up to 5 s.</summary>
    private TimeSpan replacementPatience = InitialReplacementPatience;

    private static readonly TimeSpan InitialReplacementPatience = TimeSpan.FromMilliseconds(250);

    private static readonly TimeSpan LongestReplacementPatience = TimeSpan.FromSeconds(5);

    /// <summary>Not before then: the next attempt after a refusal.</summary>
    private Deadline nextReplacementAttempt = Deadline.Now;

    /// <summary>
    /// Forks a worker for each empty slot (a worker died) and for each idle worker that asked to
    /// be replaced (<see cref="PoolWorker.Retiring"/>), which then leaves: its channel is closed,
    /// so it ends its state and exits, and it is reaped later. A worker that cannot be replaced yet
    /// (other threads keep running) serves on; the attempt is made again, backing off.
    /// </summary>
    private void Replace()
    {
        if (nextReplacementAttempt.HasPassed)
        {
            for (int i = 0; i < workers.Length && !disposing; i++)
            {
                var old = workers[i];
                bool due = old is null ? Options.ReplaceDeadWorkers : old is { Retiring: true, Current: null };
                if (!due)
                {
                    continue;
                }
                // Forking here needs every other thread asleep (fork-safety rule 3). A short wait, so
                // that dispatching to the live workers pauses briefly; after a refusal, back off.
                Runtime.Quiescence.ThreadPatience = replacementPatience;
                try
                {
                    // Read before the slot is cleared for the new worker.
                    var heap = memoryBoard[i].Read();
                    var fresh = SpawnWorker(i);
                    if (old is not null)
                    {
                        Leave(old, heap);
                    }
                    else
                    {
                        Interlocked.Increment(ref replacements);
                    }
                    workers[i] = fresh;
                    Published();
                    startDeaths = 0;
                    replacementPatience = InitialReplacementPatience;
                    nextReplacementAttempt = Deadline.Now;
                }
                catch (Exception e) when (e is ChildExitedException or ChannelProtocolException or IOException && ++startDeaths < MaxStartDeaths)
                {
                    // The fresh worker died before it was ready (killed from outside, say): forked
                    // again at once, a few times in a row, before the queue is given up on.
                    lastReplacementError = e;
                    Interlocked.Increment(ref failedReplacements);
                    i--;
                }
                catch (Exception e) when (e is ForkSafetyException or ForkException or RemoteException or ChildProcessException or ChannelProtocolException or IOException)
                {
                    lastReplacementError = e;
                    Interlocked.Increment(ref failedReplacements);
                    nextReplacementAttempt = Deadline.After(replacementPatience);
                    replacementPatience = TimeSpan.FromTicks(Math.Min(replacementPatience.Ticks * 2, LongestReplacementPatience.Ticks));
                    break;
                }
                finally
                {
                    Runtime.Quiescence.ThreadPatience = null;
                }
            }
        }
        FailQueuedIfNoWorkers();
    }

    /// <summary>A worker replaced by a fresh fork: measured, its channel closed (it ends its state and exits), reaped later.</summary>
    private void Leave(PoolWorker worker, ChildHeap heap)
    {
        Measure(worker.Channel.Pid, heap, replaced: true);
        set.Remove(worker.Channel);
        worker.Channel.Close();
        leaving.Add(worker.Channel.Child!);
    }

    /// <summary>Fresh workers that died before they were ready, in a row; at <see cref="MaxStartDeaths"/>, the pool backs off and fails its queue if it has no worker.</summary>
    private int startDeaths;

    private const int MaxStartDeaths = 5;

    /// <summary>
    /// With no live worker, the queued jobs fail, unless a replacement is still being attempted for
    /// a reason that passes (below). A fresh worker killed before it was ready does not get here: it
    /// is forked again at once, up to <see cref="MaxStartDeaths"/> times in a row (<see cref="Replace"/>).
    /// </summary>
    private void FailQueuedIfNoWorkers()
    {
        if (workers.Any(w => w is not null))
        {
            return;
        }
        // Queued jobs wait while dead workers are being replaced and the last attempt was refused
        // for a reason that passes: other threads ran (a busy process) or the fork failed. They
        // fail when replacing is off, when the refusal is a setting (it will not change), or once
        // the attempts have backed off to the longest wait (five refusals, about 10 s): never a hang.
        // (Failing at the first refusal ended some of CrashReportTests' pool scenarios under load,
        // whose two submitting threads keep the thread pool busy, with this error instead of the
        // crash's.)
        // A fresh worker that died before it was ready (killed from outside) passes too: after
        // MaxStartDeaths in a row, the back-off bounds the wait as for a refusal.
        bool passing = lastReplacementError is ForkSafetyException { Setting: "threads" } or ForkException
            or ChildExitedException or ChannelProtocolException or IOException;
        if (Options.ReplaceDeadWorkers && (lastReplacementError is null || passing) && replacementPatience < LongestReplacementPatience)
        {
            return;
        }
        var error = new InvalidOperationException(
            "The worker pool has no live worker" + (lastReplacementError is { } e ? $": replacing one failed: {e.Message}" : "."), lastReplacementError);
        while (queue.TryDequeue(out var request))
        {
            request.Fail(error);
        }
    }

    private void HandOut()
    {
        foreach (var worker in workers)
        {
            if (worker is null || worker.Current is not null)
            {
                continue;
            }
            if (!queue.TryDequeue(out var request))
            {
                return;
            }
            worker.Current = request;
            worker.Channel.Job = request.Job.Name;
            try
            {
                worker.Channel.Send(request.Arguments);
                worker.Channel.Send((request.WithState ? "S" : "P") + request.Job.Id);
            }
            catch (ChannelSerializationException e)
            {
                worker.Current = null;
                request.Fail(e);
            }
            catch (Exception e) when (e is IOException or ChannelProtocolException)
            {
                worker.Channel.Child!.Kill();
                Died(worker, e);
            }
        }
    }

    private void Shutdown()
    {
        lock (gate)
        {
            closed = true;
        }
        var error = new ObjectDisposedException(GetType().Name, "The worker pool was disposed before the job finished.");
        while (queue.TryDequeue(out var request))
        {
            request.Fail(error);
        }
        foreach (var worker in workers)
        {
            worker?.Current?.Fail(error);
            worker?.Channel.Close();
        }
        // Closed channels tell idle workers to end (disposing their state); give them a moment, then reap.
        var deadline = Deadline.After(TimeSpan.FromSeconds(5));
        foreach (var worker in workers)
        {
            if (worker is null)
            {
                continue;
            }
            worker.Channel.Child!.WaitOrKill(deadline);
            worker.Channel.Dispose();
        }
        foreach (var child in leaving)
        {
            child.WaitOrKill(deadline);
        }
        pids = [];
        live = [];
    }

    /// <summary>
    /// Ends the pool: queued and running jobs fail with <see cref="ObjectDisposedException"/>, the
    /// workers are told to end (their state is disposed), and reaped (killed if they do not end
    /// within 5 s). Harmless in a forked child, which does not own the pool.
    /// </summary>
    public void Dispose()
    {
        if (ProcessIdentity.Current != ownerPid || disposing)
        {
            return;
        }
        disposing = true;
        set.Wake();
        dispatcher.Join();
        set.Dispose();
        memoryBoard.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// <see cref="Dispose"/> without blocking the caller: the wait for the pool's thread and the
    /// workers' exit (up to 5 s) runs on a thread of its own.
    /// </summary>
    public ValueTask DisposeAsync() => new(ForkTask.RunOnThread(() =>
    {
        Dispose();
        return true;
    }));
}
