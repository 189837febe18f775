using System.Linq.Expressions;
using System.Reflection;
using Microsoft.Win32.SafeHandles;

namespace PProcess.Runtime;

/// <summary>
/// Makes the runtime's thread pool, gate thread, timers and wait threads work in a forked child
/// (docs/fork-safety.md, "The child's runtime"). The child inherits the parent's pool state: it
/// counts the parent's workers as existing and waiting, so it would never start one, and its wait
/// objects list the parent's threads as waiters. This resets that state to "no thread exists yet"
/// with fresh wait objects, and disarms the timers the child inherited (they belong to the parent's
/// program: a parent's pending <c>await Task.Delay</c> must not resume in the child).
/// </summary>
/// <remarks>
/// It writes private fields of System.Private.CoreLib, resolved by name once in the parent
/// (<see cref="Prepare"/>) and compiled into one delegate that the parent JIT-compiles by a dry run,
/// so a child runs only prepared code (its cost is inside each child's start, which `fork_cost`
/// measures: docs/fork-safety.md, rule 9). It is verified on the runtime versions in
/// <see cref="VerifiedRuntimes"/>; on another major.minor version, or when a field is missing,
/// the repair is unavailable and <see cref="ForkGuard"/> refuses to fork a process whose pool or
/// timers have started, naming the cause, instead of letting its children hang.
/// </remarks>
internal static class ThreadPoolRepair
{
    /// <summary>The runtime versions on which the repair was verified by the test suite's battery.</summary>
    internal static readonly string[] VerifiedRuntimes = ["10.0.12"];

    /// <summary>The major.minor version whose private fields the repair knows.</summary>
    private static readonly Version KnownRuntime = new(10, 0);

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Lazy<string?> Preparation = new(PrepareCore);

    /// <summary>The compiled repair: (tick, dry run, counts of the forking worker) -> outcome.</summary>
    private static Func<int, bool, ulong, int>? apply;

    /// <summary>The private fields the repair reads or writes, as "Type.field" (for the pinning test and messages).</summary>
    internal static readonly List<string> FieldsTouched = [];

    // Wait objects created in the parent and never used there: in a child they have no waiters.
    // A child that forks again needs new ones (its own pool uses these), see RenewSpares.
    private static SafeWaitHandle? spareSemaphore, spareGateRun, spareGateDelay, spareTimer;
    private static bool sparesUsed;

    private static Action? replaceSocketEngines;

    /// <summary>Null when the repair is ready; otherwise why it cannot be used on this runtime.</summary>
    internal static string? Unavailable => SimulatedUnavailable ?? Preparation.Value;

    /// <summary>For tests: makes the repair look unavailable, as on a runtime it does not know.</summary>
    internal static string? SimulatedUnavailable { get; set; }

    /// <summary>Resolves the fields and compiles the repair, once, in the parent.</summary>
    internal static void Prepare() => _ = Preparation.Value;

    private static string? PrepareCore()
    {
        var version = Environment.Version;
        if (version.Major != KnownRuntime.Major || version.Minor != KnownRuntime.Minor)
        {
            return $"the repair knows the private thread-pool fields of .NET {KnownRuntime}, and this is .NET {version}";
        }
        try
        {
            RenewSpares();
            apply = Build();
            // A dry run JIT-compiles the delegate here, so that children inherit it compiled.
            apply(Environment.TickCount, true, 0);
            return null;
        }
        catch (Exception e) when (e is MissingFieldException or MissingMemberException or TypeLoadException or InvalidCastException or ArgumentException or InvalidOperationException)
        {
            return $"a private field of .NET {version}'s thread pool is not what the repair expects: {e.Message}";
        }
    }

    /// <summary>
    /// In the parent, before a fork: new spare wait objects if a previous child (this process is
    /// itself a child) used them for its own pool.
    /// </summary>
    internal static void RenewSpares()
    {
        if (spareSemaphore is not null && !sparesUsed)
        {
            return;
        }
        spareSemaphore = new Semaphore(0, short.MaxValue).SafeWaitHandle;
        spareGateRun = new AutoResetEvent(true).SafeWaitHandle; // the gate's event starts signalled
        spareGateDelay = new AutoResetEvent(false).SafeWaitHandle;
        spareTimer = new AutoResetEvent(false).SafeWaitHandle;
        sparesUsed = false;
    }

    /// <summary>Outcomes of <see cref="RepairInChild"/>; anything but <see cref="Repaired"/> means the fork point was unsafe.</summary>
    internal const int Repaired = 0, PoolLockHeld = 1, TimerLockHeld = 2, QueueLockHeld = 3, WorkPending = 4;

    /// <summary>
    /// In the child, before user code, while it has one thread. Returns <see cref="Repaired"/>, or
    /// why the fork caught the parent's pool at a moment it cannot be repaired from (a lock held
    /// by a thread that does not exist here, or work items queued), so that the fork is made again.
    /// </summary>
    internal static int RepairInChild(bool parentHadSocketEngine)
    {
        if (apply is null)
        {
            return Repaired; // the pool never started in the parent (checked before the fork): nothing to repair
        }
        ulong workerCounts = Thread.CurrentThread.IsThreadPoolThread ? ForkingWorkerCounts : 0;
        int outcome = apply(Environment.TickCount, false, workerCounts);
        if (outcome != Repaired)
        {
            return outcome;
        }
        sparesUsed = true;
        if (parentHadSocketEngine)
        {
            replaceSocketEngines!();
        }
        return Repaired;
    }

    /// <summary>ThreadCounts for a child forked from a pool worker: that thread is the one worker, processing.</summary>
    private const ulong ForkingWorkerCounts = 1UL | (1UL << 16);

    private static Type CoreType(string name) => typeof(object).Assembly.GetType(name, throwOnError: true)!;

    private static Type Nested(Type type, string name) =>
        type.GetNestedType(name, BindingFlags.Public | BindingFlags.NonPublic) ?? throw new TypeLoadException($"{type.FullName}+{name} does not exist");

    private static FieldInfo Field(Type type, string name, Type? expected = null)
    {
        var field = type.GetField(name, All) ?? throw new MissingFieldException(type.FullName, name);
        if (expected is not null && field.FieldType != expected)
        {
            throw new InvalidCastException($"{type.FullName}.{name} is a {field.FieldType}, not a {expected}");
        }
        FieldsTouched.Add($"{type.FullName}.{name}");
        return field;
    }

    /// <summary>Builds the repair as one compiled expression over the resolved fields.</summary>
    private static Func<int, bool, ulong, int> Build()
    {
        FieldsTouched.Clear();
        Type tp = CoreType("System.Threading.PortableThreadPool");
        Type sepType = Nested(tp, "CacheLineSeparated"), countsType = Nested(tp, "ThreadCounts");
        Type userCbType = Nested(tp, "CountsOfThreadsProcessingUserCallbacks");
        Type lowLevelLock = CoreType("System.Threading.LowLevelLock");
        Type lifoType = CoreType("System.Threading.LowLevelLifoSemaphore");
        Type workQueueType = CoreType("System.Threading.ThreadPoolWorkQueue");
        Type timerQueueType = CoreType("System.Threading.TimerQueue");
        Type timerType = CoreType("System.Threading.TimerQueueTimer");

        object pool = Field(tp, "ThreadPoolInstance").GetValue(null) ?? throw new InvalidOperationException("PortableThreadPool.ThreadPoolInstance is null");
        var separatedField = Field(tp, "_separated", sepType);
        var countsField = Field(sepType, "counts", countsType);
        var countsData = Field(countsType, "_data", typeof(ulong));
        var gateStateField = Field(sepType, "gateThreadRunningState", typeof(int));
        var requested = Field(sepType, "numRequestedWorkers", typeof(int));
        var lastDequeue = Field(sepType, "lastDequeueTime", typeof(int));
        var minThreads = Field(tp, "_minThreads", typeof(short));
        var blocked = Field(tp, "_numBlockedThreads", typeof(short));
        var addedForBlocking = Field(tp, "_numThreadsAddedDueToBlocking", typeof(short));
        var pendingAdjustment = Field(tp, "_pendingBlockingAdjustment");
        var keptAlive = Field(tp, "_numThreadsBeingKeptAlive", typeof(int));
        var waitThreadsHead = Field(tp, "_waitThreadsHead");
        var userCallbacks = Field(tp, "_countsOfThreadsProcessingUserCallbacks", userCbType);
        var userCallbacksData = Field(userCbType, "_data", typeof(uint));
        var lowLevelState = Field(lowLevelLock, "_state", typeof(int));
        object adjustmentLock = Field(tp, "_threadAdjustmentLock", lowLevelLock).GetValue(pool)!;
        object waitThreadLock = Field(tp, "_waitThreadLock", lowLevelLock).GetValue(pool)!;

        object lifo = Field(Nested(tp, "WorkerThread"), "s_semaphore", lifoType).GetValue(null)!;
        var lifoSemaphore = Field(lifoType, "_semaphore", typeof(Semaphore));
        Type lifoSepType = Nested(lifoType, "CacheLineSeparatedCounts"), lifoCountsType = Nested(lifoType, "Counts");
        var lifoSeparated = Field(lifoType, "_separated", lifoSepType);
        var lifoCounts = Field(lifoSepType, "_counts", lifoCountsType);
        var lifoData = Field(lifoCountsType, "_data", typeof(ulong));

        Type gate = Nested(tp, "GateThread");
        var gateRun = (AutoResetEvent)Field(gate, "RunGateThreadEvent", typeof(AutoResetEvent)).GetValue(null)!;
        var gateDelay = (AutoResetEvent)Field(gate, "DelayEvent", typeof(AutoResetEvent)).GetValue(null)!;

        object workQueue = Field(typeof(ThreadPool), "s_workQueue", workQueueType).GetValue(null)!;
        Type wqSepType = Nested(workQueueType, "CacheLineSeparated");
        var wqSeparated = Field(workQueueType, "_separated", wqSepType);
        var outstandingRequest = Field(wqSepType, "_hasOutstandingThreadRequest", typeof(int));
        object queueAssignmentLock = Field(workQueueType, "_queueAssignmentLock", lowLevelLock).GetValue(workQueue)!;

        var scheduledTimers = Field(timerQueueType, "s_scheduledTimers");
        var timersToFire = Field(timerQueueType, "s_scheduledTimersToFire");
        var timerEvent = (AutoResetEvent)Field(timerQueueType, "s_timerEvent", typeof(AutoResetEvent)).GetValue(null)!;
        object timerEventLock = Field(timerQueueType, "s_timerEventLock", typeof(Lock)).GetValue(null)!;
        var lockOwner = Field(typeof(Lock), "_owningThreadId", typeof(uint));
        var isScheduled = Field(timerQueueType, "_isScheduled", typeof(bool));
        var isTimerScheduled = Field(timerQueueType, "_isTimerScheduled", typeof(bool));
        var shortTimers = Field(timerQueueType, "_shortTimers", timerType);
        var longTimers = Field(timerQueueType, "_longTimers", timerType);
        var activeCount = Field(timerQueueType, "<ActiveCount>k__BackingField", typeof(long));
        var sharedLock = Field(timerQueueType, "<SharedLock>k__BackingField", typeof(Lock));
        var timerNext = Field(timerType, "_next", timerType);
        var timerPrev = Field(timerType, "_prev", timerType);
        var timerDue = Field(timerType, "_dueTime", typeof(uint));
        var queues = (Array)(timerQueueType.GetProperty("Instances", All)?.GetValue(null) ?? throw new MissingMemberException(timerQueueType.FullName, "Instances"));

        var tick = Expression.Parameter(typeof(int), "tick");
        var dry = Expression.Parameter(typeof(bool), "dry");
        var worker = Expression.Parameter(typeof(ulong), "workerCounts");
        var done = Expression.Label(typeof(int));
        Expression Constant(object o) => Expression.Constant(o, o.GetType());
        Expression Set(Expression target, object? value) => Expression.Assign(target, Expression.Constant(value, target.Type));
        Expression Refuse(Expression held, int outcome) => Expression.IfThen(held, Expression.Return(done, Expression.Constant(outcome)));
        Expression Spare(string name) => Expression.Field(null, typeof(ThreadPoolRepair).GetField(name, All)!);

        var poolE = Constant(pool);
        var sep = Expression.Field(poolE, separatedField);
        var body = new List<Expression>
        {
            // 0. A lock held by a thread that does not exist here is held for ever: refuse the fork point.
            Refuse(Expression.OrElse(
                Expression.NotEqual(Expression.Field(Constant(adjustmentLock), lowLevelState), Expression.Constant(0)),
                Expression.OrElse(
                    Expression.NotEqual(Expression.Field(Constant(waitThreadLock), lowLevelState), Expression.Constant(0)),
                    Expression.NotEqual(Expression.Field(Constant(queueAssignmentLock), lowLevelState), Expression.Constant(0)))), PoolLockHeld),
            Refuse(Expression.NotEqual(Expression.Field(Constant(timerEventLock), lockOwner), Expression.Constant(0u)), TimerLockHeld),
        };
        foreach (object queue in queues)
        {
            body.Add(Refuse(Expression.NotEqual(Expression.Field(Expression.Field(Constant(queue), sharedLock), lockOwner), Expression.Constant(0u)), QueueLockHeld));
        }
        // Work queued in the parent would run here on a new worker: parent code in the child. Refuse.
        body.Add(Refuse(Expression.GreaterThan(Expression.Property(null, typeof(ThreadPool).GetProperty(nameof(ThreadPool.PendingWorkItemCount))!), Expression.Constant(0L)), WorkPending));
        body.Add(Expression.IfThen(dry, Expression.Return(done, Expression.Constant(Repaired))));

        // 1. Fresh wait objects: the inherited ones list the parent's threads as waiters, and a
        //    Set or Release would hand the signal to one of them.
        body.Add(Expression.Assign(Expression.Property(Expression.Field(Constant(lifo), lifoSemaphore), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareSemaphore))));
        body.Add(Expression.Assign(Expression.Property(Constant(gateRun), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareGateRun))));
        body.Add(Expression.Assign(Expression.Property(Constant(gateDelay), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareGateDelay))));
        body.Add(Expression.Assign(Expression.Property(Constant(timerEvent), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareTimer))));
        // 2. The LIFO semaphore's counts (signals, waiters, spinners) were the parent's workers.
        body.Add(Set(Expression.Field(Expression.Field(Expression.Field(Constant(lifo), lifoSeparated), lifoCounts), lifoData), 0UL));
        // 3. Thread counts: goal back to the minimum; no worker exists or processes, except the
        //    forking thread when it is a pool worker.
        short min = (short)minThreads.GetValue(pool)!;
        body.Add(Expression.Assign(Expression.Field(Expression.Field(sep, countsField), countsData),
            Expression.Or(Expression.Constant((ulong)(ushort)Math.Max(min, (short)1) << 32), worker)));
        body.Add(Set(Expression.Field(sep, requested), 0));
        body.Add(Expression.Assign(Expression.Field(sep, lastDequeue), tick));
        body.Add(Set(Expression.Field(Expression.Field(Constant(workQueue), wqSeparated), outstandingRequest), 0));
        body.Add(Set(Expression.Field(poolE, blocked), (short)0));
        body.Add(Set(Expression.Field(poolE, addedForBlocking), (short)0));
        body.Add(Set(Expression.Field(poolE, pendingAdjustment), Enum.ToObject(pendingAdjustment.FieldType, 0)));
        body.Add(Set(Expression.Field(poolE, keptAlive), 0));
        body.Add(Set(Expression.Field(Expression.Field(poolE, userCallbacks), userCallbacksData), 0u));
        // 4. Gate thread "never created", so the next request creates one here.
        body.Add(Set(Expression.Field(sep, gateStateField), 0));
        // 5. The parent's RegisterWaitForSingleObject threads do not exist here.
        body.Add(Expression.Assign(Expression.Field(poolE, waitThreadsHead), Expression.Constant(null, waitThreadsHead.FieldType)));
        // 6. Timers: no timer thread yet (the next timer starts one), nothing scheduled, and every
        //    inherited timer disarmed as if stopped (a timer the child arms again fires as usual).
        body.Add(Expression.Assign(Expression.Field(null, scheduledTimers), Expression.Constant(null, scheduledTimers.FieldType)));
        if (timersToFire.GetValue(null) is { } toFire)
        {
            body.Add(Expression.Call(Constant(toFire), toFire.GetType().GetMethod("Clear")!));
        }
        foreach (object queue in queues)
        {
            var q = Constant(queue);
            body.Add(Set(Expression.Field(q, isScheduled), false));
            body.Add(Set(Expression.Field(q, isTimerScheduled), false));
            body.Add(Disarm(Expression.Field(q, shortTimers), timerType, timerNext, timerPrev, timerDue));
            body.Add(Disarm(Expression.Field(q, longTimers), timerType, timerNext, timerPrev, timerDue));
            body.Add(Set(Expression.Field(q, shortTimers), null));
            body.Add(Set(Expression.Field(q, longTimers), null));
            body.Add(Set(Expression.Field(q, activeCount), 0L));
        }
        body.Add(Expression.Label(done, Expression.Constant(Repaired)));
        return Expression.Lambda<Func<int, bool, ulong, int>>(Expression.Block(body), tick, dry, worker).Compile();
    }

    /// <summary>Unlinks every timer of a list and marks it not due, as TimerQueue.DeleteTimer leaves a stopped timer.</summary>
    private static Expression Disarm(Expression head, Type timerType, FieldInfo next, FieldInfo prev, FieldInfo due)
    {
        var t = Expression.Variable(timerType, "t");
        var following = Expression.Variable(timerType, "following");
        var end = Expression.Label();
        return Expression.Block([t, following],
            Expression.Assign(t, head),
            Expression.Loop(
                Expression.IfThenElse(Expression.Equal(t, Expression.Constant(null, timerType)),
                    Expression.Break(end),
                    Expression.Block(
                        Expression.Assign(following, Expression.Field(t, next)),
                        Expression.Assign(Expression.Field(t, next), Expression.Constant(null, timerType)),
                        Expression.Assign(Expression.Field(t, prev), Expression.Constant(null, timerType)),
                        Expression.Assign(Expression.Field(t, due), Expression.Constant(uint.MaxValue)),
                        Expression.Assign(t, following))),
                end));
    }

    /// <summary>
    /// The socket engine (System.Net.Sockets' epoll descriptor and its thread, ".NET Sockets") is
    /// created on first use of async socket I/O. A child of a parent that created it would register
    /// its sockets in the parent's epoll, whose events the parent's thread consumes: the child gets
    /// new engines. Resolved in the parent when its snapshot shows that thread, so that a program
    /// that never uses sockets does not load System.Net.Sockets for this.
    /// </summary>
    internal static void PrepareSocketEngines()
    {
        if (replaceSocketEngines is not null)
        {
            return;
        }
        var engineType = Type.GetType("System.Net.Sockets.SocketAsyncEngine, System.Net.Sockets", throwOnError: true)!;
        var engines = engineType.GetField("s_engines", All) ?? throw new MissingFieldException(engineType.FullName, "s_engines");
        replaceSocketEngines = () =>
        {
            var array = (Array)engines.GetValue(null)!;
            for (int i = 0; i < array.Length; i++)
            {
                array.SetValue(Activator.CreateInstance(engineType, nonPublic: true), i);
            }
        };
    }

    /// <summary>The socket engine's thread, as /proc names it.</summary>
    internal const string SocketEngineThread = ".NET Sockets";
}
