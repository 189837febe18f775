using System.Linq.Expressions;
using System.Reflection;
using Microsoft.Win32.SafeHandles;

namespace PProcess.Runtime;

/// <summary>
/// Makes the runtime's thread pool, gate thread, timers and wait threads work in a forked child
/// (docs/fork-safety.md, "The child's runtime"). The child inherits the parent's pool state: it
/// counts the parent's workers as existing and waiting, so it would never start one, its wait
/// objects list the parent's threads as waiters, and its queues hold the parent's pending work
/// items. This resets that state to "no thread exists yet" with fresh wait objects, drops the
/// parent's queued work items (they belong to the parent's program: the child's pool starts
/// empty) and disarms the timers the child inherited (a parent's pending <c>await Task.Delay</c>
/// must not resume in the child).
/// </summary>
/// <remarks>
/// It writes private fields of System.Private.CoreLib, resolved by name and checked by type once
/// in the parent (<see cref="Prepare"/>) and compiled into one delegate that the parent JIT-compiles
/// by a dry run, so a child runs only prepared code (its cost is inside each child's start, which
/// `fork_cost` measures: docs/fork-safety.md, rule 9). It knows the fields of .NET 10.0 and 11.0
/// (<see cref="KnownRuntimes"/>) and was verified on the versions in <see cref="VerifiedRuntimes"/>
/// (`.ci/runtimes.sh`); on another major.minor version, or when a field is missing or of another
/// type, the repair is unavailable and <see cref="ForkGuard"/> refuses to fork a process whose pool
/// or timers have started, naming the runtime and the field, instead of letting its children hang.
/// </remarks>
internal static class ThreadPoolRepair
{
    /// <summary>The runtime versions on which the repair was verified by the fork-safety battery (`.ci/runtimes.sh`).</summary>
    internal static readonly string[] VerifiedRuntimes = ["10.0.12", "10.0.15", "11.0.0"];

    /// <summary>The major.minor versions whose private fields the repair knows.</summary>
    internal static readonly Version[] KnownRuntimes = [new(10, 0), new(11, 0)];

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Lazy<string?> Preparation = new(PrepareCore);

    /// <summary>The compiled repair: (tick, dry run, counts of the forking worker) -> outcome.</summary>
    private static Func<int, bool, ulong, int>? apply;

    /// <summary>The private fields the repair reads or writes, as "Type.field" (for the pinning test and messages).</summary>
    internal static readonly List<string> FieldsTouched = [];

    // Wait objects created in the parent and never used there: in a child they have no waiters.
    // A child that forks again needs new ones (its own pool uses these), see RenewSpares.
    // The semaphore is .NET 10's only: .NET 11's pool parks its workers on blockers of their own.
    private static SafeWaitHandle? spareSemaphore, spareGateRun, spareGateDelay, spareTimer;
    private static bool sparesUsed;

    private static Action? replaceSocketEngines;

    /// <summary>Null when the repair is ready; otherwise why it cannot be used on this runtime.</summary>
    internal static string? Unavailable => TestHooks.ThreadPoolRepairUnavailable ?? Preparation.Value;

    /// <summary>Resolves the fields and compiles the repair, once, in the parent.</summary>
    internal static void Prepare() => _ = Preparation.Value;

    private static string? PrepareCore()
    {
        var version = Environment.Version;
        if (!KnownRuntimes.Any(known => known.Major == version.Major && known.Minor == version.Minor))
        {
            return $"the repair knows the private thread-pool fields of .NET {string.Join(" and ", KnownRuntimes.Select(v => v.ToString()))}, and this is .NET {version}";
        }
        try
        {
            RenewSpares();
            apply = Build(version.Major);
            // A dry run JIT-compiles the delegate here, so that children inherit it compiled.
            apply(Environment.TickCount, true, 0);
            return null;
        }
        catch (Exception e) when (e is MissingFieldException or MissingMemberException or TypeLoadException or InvalidCastException or ArgumentException or InvalidOperationException)
        {
            apply = null;
            return $"a private field of .NET {version}'s thread pool is not what the repair expects: {e.Message}";
        }
    }

    /// <summary>
    /// In the parent, before a fork: new spare wait objects if a previous child (this process is
    /// itself a child) used them for its own pool.
    /// </summary>
    internal static void RenewSpares()
    {
        if (spareGateRun is not null && !sparesUsed)
        {
            return;
        }
        spareSemaphore = Environment.Version.Major == 10 ? new Semaphore(0, short.MaxValue).SafeWaitHandle : null;
        spareGateRun = new AutoResetEvent(true).SafeWaitHandle; // the gate's event starts signalled
        spareGateDelay = new AutoResetEvent(false).SafeWaitHandle;
        spareTimer = new AutoResetEvent(false).SafeWaitHandle;
        sparesUsed = false;
    }

    /// <summary>Outcomes of <see cref="RepairInChild"/>; anything but <see cref="Repaired"/> means the fork point was unsafe.</summary>
    internal const int Repaired = 0, PoolLockHeld = 1, TimerLockHeld = 2, QueueLockHeld = 3, StealLockHeld = 4;

    /// <summary>
    /// In the child, before user code, while it has one thread. Returns <see cref="Repaired"/>, or
    /// why the fork caught the parent's pool at a moment it cannot be repaired from (a lock held
    /// by a thread that does not exist here), so that the fork is made again.
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
        var field = type.GetField(name, All);
        if (field is null || TestHooks.ThreadPoolRepairMissingField == $"{type.FullName}.{name}")
        {
            throw new MissingFieldException(type.FullName, name);
        }
        if (expected is not null && field.FieldType != expected)
        {
            throw new InvalidCastException($"{type.FullName}.{name} is a {field.FieldType}, not a {expected}");
        }
        FieldsTouched.Add($"{type.FullName}.{name}");
        return field;
    }

    /// <summary>Builds the repair for .NET <paramref name="major"/> as one compiled expression over the resolved fields.</summary>
    private static Func<int, bool, ulong, int> Build(int major)
    {
        FieldsTouched.Clear();
        bool net10 = major == 10;
        Type tp = CoreType("System.Threading.PortableThreadPool");
        Type sepType = Nested(tp, "CacheLineSeparated"), countsType = Nested(tp, "ThreadCounts");
        Type userCbType = Nested(tp, "CountsOfThreadsProcessingUserCallbacks");
        Type lowLevelLock = CoreType("System.Threading.LowLevelLock");
        Type lifoType = CoreType("System.Threading.LowLevelLifoSemaphore");
        Type workQueueType = CoreType("System.Threading.ThreadPoolWorkQueue");
        Type timerQueueType = CoreType("System.Threading.TimerQueue");
        Type timerType = CoreType("System.Threading.TimerQueueTimer");

        object pool = Field(tp, "ThreadPoolInstance", tp).GetValue(null) ?? throw new InvalidOperationException("PortableThreadPool.ThreadPoolInstance is null");
        var separatedField = Field(tp, "_separated", sepType);
        var countsField = Field(sepType, "counts", countsType);
        var countsData = Field(countsType, "_data", typeof(ulong));
        var gateStateField = Field(sepType, "gateThreadRunningState", typeof(int));
        // .NET 10 counts requested workers and the time of the last dequeue; .NET 11 keeps the
        // pool's one outstanding request here (in .NET 10 it is the work queue's) and the time of the last dispatch.
        var requested = net10 ? Field(sepType, "numRequestedWorkers", typeof(int)) : Field(sepType, "_hasOutstandingThreadRequest", typeof(int));
        var lastDequeue = Field(sepType, net10 ? "lastDequeueTime" : "lastDispatchTime", typeof(int));
        var minThreads = Field(tp, "_minThreads", typeof(short));
        var blocked = Field(tp, "_numBlockedThreads", typeof(short));
        var addedForBlocking = Field(tp, "_numThreadsAddedDueToBlocking", typeof(short));
        var pendingAdjustment = Field(tp, "_pendingBlockingAdjustment", Nested(tp, "PendingBlockingAdjustment"));
        var keptAlive = Field(tp, "_numThreadsBeingKeptAlive", typeof(int));
        var waitThreadsHead = Field(tp, "_waitThreadsHead", Nested(tp, "WaitThreadNode"));
        var userCallbacks = Field(tp, "_countsOfThreadsProcessingUserCallbacks", userCbType);
        var userCallbacksData = Field(userCbType, "_data", typeof(uint));
        var lowLevelState = Field(lowLevelLock, "_state", net10 ? typeof(int) : typeof(uint));
        object adjustmentLock = Field(tp, "_threadAdjustmentLock", lowLevelLock).GetValue(pool)!;
        object waitThreadLock = Field(tp, "_waitThreadLock", lowLevelLock).GetValue(pool)!;

        object lifo = Field(Nested(tp, "WorkerThread"), "s_semaphore", lifoType).GetValue(null)!;
        Type lifoSepType = Nested(lifoType, "CacheLineSeparatedCounts"), lifoCountsType = Nested(lifoType, "Counts");
        var lifoSeparated = Field(lifoType, "_separated", lifoSepType);
        var lifoCounts = Field(lifoSepType, "_counts", lifoCountsType);
        var lifoData = Field(lifoCountsType, "_data", typeof(ulong));

        Type gate = Nested(tp, "GateThread");
        var gateRun = (AutoResetEvent)Field(gate, "RunGateThreadEvent", typeof(AutoResetEvent)).GetValue(null)!;
        var gateDelay = (AutoResetEvent)Field(gate, "DelayEvent", typeof(AutoResetEvent)).GetValue(null)!;

        object workQueue = Field(typeof(ThreadPool), "s_workQueue", workQueueType).GetValue(null)!;
        object queueAssignmentLock = Field(workQueueType, "_queueAssignmentLock", lowLevelLock).GetValue(workQueue)!;

        var timerQueueList = typeof(List<>).MakeGenericType(timerQueueType);
        var scheduledTimers = Field(timerQueueType, "s_scheduledTimers", timerQueueList);
        var timersToFire = Field(timerQueueType, "s_scheduledTimersToFire", timerQueueList);
        var timerEvent = (AutoResetEvent)Field(timerQueueType, "s_timerEvent", typeof(AutoResetEvent)).GetValue(null)!;
        object timerEventLock = Field(timerQueueType, "s_timerEventLock", typeof(Lock)).GetValue(null)!;
        var lockOwner = Field(typeof(Lock), "_owningThreadId", net10 ? typeof(uint) : typeof(int));
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
        Expression Refuse(Expression held, int outcome) => Expression.IfThen(held, Expression.Return(done, Expression.Constant(outcome)));
        Expression Held(object lowLevel) => Expression.NotEqual(Expression.Field(Constant(lowLevel), lowLevelState), Expression.Default(lowLevelState.FieldType));
        Expression Owned(Expression lockObject) => Expression.NotEqual(Expression.Field(lockObject, lockOwner), Expression.Default(lockOwner.FieldType));
        Expression Spare(string name) => Expression.Field(null, typeof(ThreadPoolRepair).GetField(name, All)!);

        var poolE = Constant(pool);
        var sep = Expression.Field(poolE, separatedField);
        var lifoE = Constant(lifo);
        var body = new List<Expression>();

        // 0. A lock held by a thread that does not exist here is held for ever: refuse the fork point.
        var poolLocks = new List<object> { adjustmentLock, waitThreadLock, queueAssignmentLock };
        if (!net10)
        {
            // .NET 11's LIFO semaphore guards its stack of parked workers with a lock, and its wait
            // subsystem (managed, as in NativeAOT) every wait and signal with one global lock.
            poolLocks.Add(Field(lifoType, "_blockerStackLock", lowLevelLock).GetValue(lifo)!);
            poolLocks.Add(Field(CoreType("System.Threading.WaitSubsystem"), "s_lock", lowLevelLock).GetValue(null)!);
        }
        body.Add(Refuse(poolLocks.Select(Held).Aggregate(Expression.OrElse), PoolLockHeld));
        body.Add(Refuse(Owned(Constant(timerEventLock)), TimerLockHeld));
        foreach (object queue in queues)
        {
            body.Add(Refuse(Owned(Expression.Field(Constant(queue), sharedLock)), QueueLockHeld));
        }
        var (stealLocksHeld, dropQueuedWork) = QueuedWork(workQueueType, workQueue);
        body.Add(Refuse(stealLocksHeld, StealLockHeld));
        body.Add(Expression.IfThen(dry, Expression.Return(done, Expression.Constant(Repaired))));

        // 1. The parent's queued work items belong to the parent's program: dropped, the child's pool starts empty.
        body.Add(dropQueuedWork);
        // 2. Fresh wait objects: the inherited ones list the parent's threads as waiters, and a
        //    Set or Release would hand the signal to one of them.
        body.Add(Expression.Assign(Expression.Property(Constant(gateRun), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareGateRun))));
        body.Add(Expression.Assign(Expression.Property(Constant(gateDelay), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareGateDelay))));
        body.Add(Expression.Assign(Expression.Property(Constant(timerEvent), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareTimer))));
        // 3. The LIFO semaphore's counts (signals, waiters, spinners) were the parent's workers; so
        //    were, in .NET 11, its parked blockers and its pending wakes.
        body.Add(Set(Expression.Field(Expression.Field(Expression.Field(lifoE, lifoSeparated), lifoCounts), lifoData), 0UL));
        if (net10)
        {
            var lifoSemaphore = Field(lifoType, "_semaphore", typeof(Semaphore));
            body.Add(Expression.Assign(Expression.Property(Expression.Field(lifoE, lifoSemaphore), nameof(WaitHandle.SafeWaitHandle)), Spare(nameof(spareSemaphore))));
        }
        else
        {
            var blockerStack = Field(lifoType, "_blockerStack", Nested(lifoType, "LifoBlockerNode"));
            body.Add(Expression.Assign(Expression.Field(lifoE, blockerStack), Expression.Constant(null, blockerStack.FieldType)));
            body.Add(Set(Expression.Field(lifoE, Field(lifoType, "_pendingWake", typeof(int))), 0));
            body.Add(Set(Expression.Field(lifoE, Field(lifoType, "_racingUnblocks", typeof(int))), 0));
        }
        // 4. Thread counts: goal back to the minimum; no worker exists or processes, except the
        //    forking thread when it is a pool worker; no request outstanding.
        short min = (short)minThreads.GetValue(pool)!;
        body.Add(Expression.Assign(Expression.Field(Expression.Field(sep, countsField), countsData),
            Expression.Or(Expression.Constant((ulong)(ushort)Math.Max(min, (short)1) << 32), worker)));
        body.Add(Set(Expression.Field(sep, requested), 0));
        body.Add(Expression.Assign(Expression.Field(sep, lastDequeue), tick));
        if (net10)
        {
            Type wqSepType = Nested(workQueueType, "CacheLineSeparated");
            var wqSeparated = Field(workQueueType, "_separated", wqSepType);
            var outstandingRequest = Field(wqSepType, "_hasOutstandingThreadRequest", typeof(int));
            body.Add(Set(Expression.Field(Expression.Field(Constant(workQueue), wqSeparated), outstandingRequest), 0));
        }
        body.Add(Set(Expression.Field(poolE, blocked), (short)0));
        body.Add(Set(Expression.Field(poolE, addedForBlocking), (short)0));
        body.Add(Set(Expression.Field(poolE, pendingAdjustment), Enum.ToObject(pendingAdjustment.FieldType, 0)));
        body.Add(Set(Expression.Field(poolE, keptAlive), 0));
        body.Add(Set(Expression.Field(Expression.Field(poolE, userCallbacks), userCallbacksData), 0u));
        // 5. Gate thread "never created", so the next request creates one here.
        body.Add(Set(Expression.Field(sep, gateStateField), 0));
        // 6. The parent's RegisterWaitForSingleObject threads do not exist here.
        body.Add(Expression.Assign(Expression.Field(poolE, waitThreadsHead), Expression.Constant(null, waitThreadsHead.FieldType)));
        // 7. Timers: no timer thread yet (the next timer starts one), nothing scheduled, and every
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

    private static Expression Constant(object o) => Expression.Constant(o, o.GetType());

    private static Expression Set(Expression target, object? value) => Expression.Assign(target, Expression.Constant(value, target.Type));

    /// <summary>
    /// Where the parent's pending work items are: the global queues (normal, high and low priority,
    /// and the per-group queues of machines with more than 32 processors), and each pool thread's
    /// work-stealing queue, listed in WorkStealingQueueList (the forking thread's own among them when
    /// it is a pool worker). Returns a check that no thief held a work-stealing queue's lock at the
    /// fork, and the expression that empties them all: the global queues by their own Clear, each
    /// work-stealing queue by clearing its array and its indices, as a new queue is.
    /// </summary>
    private static (Expression StealLocksHeld, Expression Drop) QueuedWork(Type workQueueType, object workQueue)
    {
        var concurrentQueue = typeof(System.Collections.Concurrent.ConcurrentQueue<object>);
        var globalQueues = new List<object>();
        foreach (var name in (string[])["workItems", "highPriorityWorkItems", "lowPriorityWorkItems"])
        {
            if (Field(workQueueType, name, concurrentQueue).GetValue(workQueue) is { } queue)
            {
                globalQueues.Add(queue); // the low-priority queue exists only with the prioritization experiment on
            }
        }
        var assignable = (Array)Field(workQueueType, "_assignableWorkItemQueues", concurrentQueue.MakeArrayType()).GetValue(workQueue)!;
        globalQueues.AddRange(assignable.Cast<object>());

        Type stealingType = Nested(workQueueType, "WorkStealingQueue");
        var list = Field(Nested(workQueueType, "WorkStealingQueueList"), "s_queues", stealingType.MakeArrayType());
        var array = Field(stealingType, "m_array", typeof(object[]));
        var head = Field(stealingType, "m_headIndex", typeof(int));
        var tail = Field(stealingType, "m_tailIndex", typeof(int));
        var foreignLock = Field(stealingType, "m_foreignLock", typeof(SpinLock));

        // The list is read when the repair runs: pool threads add their queues to it as they start.
        var held = Expression.Variable(typeof(bool), "held");
        var stealLocksHeld = Expression.Block([held],
            Expression.Assign(held, Expression.Constant(false)),
            ForEach(Expression.Field(null, list), stealingType, q =>
                Expression.OrAssign(held, Expression.Property(Expression.Field(q, foreignLock), nameof(SpinLock.IsHeld)))),
            held);
        var drop = new List<Expression>();
        var clear = concurrentQueue.GetMethod(nameof(System.Collections.Concurrent.ConcurrentQueue<object>.Clear))!;
        drop.AddRange(globalQueues.Select(queue => (Expression)Expression.Call(Constant(queue), clear)));
        drop.Add(ForEach(Expression.Field(null, list), stealingType, q => Expression.Block(
            Expression.Call(typeof(Array).GetMethod(nameof(Array.Clear), [typeof(Array)])!, Expression.Field(q, array)),
            Expression.Assign(Expression.Field(q, head), Expression.Constant(0)),
            Expression.Assign(Expression.Field(q, tail), Expression.Constant(0)))));
        return (stealLocksHeld, Expression.Block(drop));
    }

    /// <summary>A loop over the elements of an array, read once.</summary>
    private static Expression ForEach(Expression arrayExpression, Type elementType, Func<Expression, Expression> body)
    {
        var items = Expression.Variable(arrayExpression.Type, "items");
        var i = Expression.Variable(typeof(int), "i");
        var item = Expression.Variable(elementType, "item");
        var end = Expression.Label();
        return Expression.Block([items, i, item],
            Expression.Assign(items, arrayExpression),
            Expression.Assign(i, Expression.Constant(0)),
            Expression.Loop(
                Expression.IfThenElse(Expression.LessThan(i, Expression.ArrayLength(items)),
                    Expression.Block(
                        Expression.Assign(item, Expression.ArrayIndex(items, i)),
                        body(item),
                        Expression.PostIncrementAssign(i)),
                    Expression.Break(end)),
                end));
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
        try
        {
            var engineType = Type.GetType("System.Net.Sockets.SocketAsyncEngine, System.Net.Sockets", throwOnError: true)!;
            var engines = (Array)Field(engineType, "s_engines", engineType.MakeArrayType()).GetValue(null)!;
            var create = engineType.GetConstructor(BindingFlags.Instance | BindingFlags.NonPublic, Type.EmptyTypes)
                ?? throw new MissingMemberException(engineType.FullName, ".ctor()");
            replaceSocketEngines = () =>
            {
                for (int i = 0; i < engines.Length; i++)
                {
                    engines.SetValue(create.Invoke(null), i);
                }
            };
        }
        catch (Exception e) when (e is MissingFieldException or MissingMemberException or TypeLoadException or InvalidCastException or FileNotFoundException)
        {
            throw new ForkSafetyException("runtime version",
                $"Refusing to fork: this process uses async sockets, and a child's copy of their engine can only be replaced by " +
                $"PProcess's repair, which does not know .NET {Environment.Version}'s socket engine: {e.Message}. A child's async " +
                "socket I/O would never complete. Fix: run on a runtime version PProcess supports (docs/fork-safety.md lists them).");
        }
    }

    /// <summary>The socket engine's thread, as /proc names it.</summary>
    internal const string SocketEngineThread = ".NET Sockets";
}
