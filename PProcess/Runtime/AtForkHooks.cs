namespace PProcess.Runtime;

/// <summary>
/// The actions registered with <see cref="Fork.RegisterAtFork"/>, in the spirit of Python's
/// <c>os.register_at_fork</c>: before each fork of this library (in the parent, in reverse order of
/// registration), after it in the parent and, in each new child, before any user code (in order of
/// registration). Kept in a copy-on-write array, read without a lock: the child reads the array it
/// inherited, and a lock held by another thread at the fork would stay held in the child.
/// </summary>
internal static class AtForkHooks
{
    private static Registration[] hooks = [];

    /// <summary>The hooks as they are now: a fork runs the same set before, in the parent after, and in its child.</summary>
    internal static Registration[] Current => Volatile.Read(ref hooks);

    internal static Registration Add(Action? before, Action? afterInParent, Action? afterInChild)
    {
        var registration = new Registration(before, afterInParent, afterInChild);
        Update(current => [.. current, registration]);
        return registration;
    }

    private static void Update(Func<Registration[], Registration[]> change)
    {
        while (true)
        {
            var current = Volatile.Read(ref hooks);
            if (Interlocked.CompareExchange(ref hooks, change(current), current) == current)
            {
                return;
            }
        }
    }

    /// <summary>In the parent, before the wait for quiet threads: the newest registration first. An exception fails the fork.</summary>
    internal static void Before(Registration[] set)
    {
        for (int i = set.Length - 1; i >= 0; i--)
        {
            if (set[i].IsActive)
            {
                set[i].BeforeFork?.Invoke();
            }
        }
    }

    /// <summary>In the parent, after the fork (made, or failed), in order of registration. Every hook runs; the first exception is raised after them.</summary>
    internal static void AfterInParent(Registration[] set)
    {
        Exception? first = null;
        for (int i = 0; i < set.Length; i++)
        {
            try
            {
                if (set[i].IsActive)
                {
                    set[i].AfterForkInParent?.Invoke();
                }
            }
            catch (Exception e)
            {
                first ??= e;
            }
        }
        if (first is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
    }

    /// <summary>
    /// In a new child, once its runtime is set up and before user code, in order of registration.
    /// A hook that throws ends the child (exit code 70) with the exception on its standard error,
    /// which the parent quotes when it reports the child's end.
    /// </summary>
    internal static void InChild(Registration[] set)
    {
        for (int i = 0; i < set.Length; i++)
        {
            if (!set[i].IsActive || set[i].AfterForkInChild is not { } hook)
            {
                continue;
            }
            try
            {
                hook();
            }
            catch (Exception e)
            {
                try
                {
                    Console.Error.WriteLine($"PProcess child {ProcessIdentity.Current}: an at-fork hook ({hook.Method.DeclaringType?.Name}.{hook.Method.Name}) failed: {e}");
                }
                catch (Exception)
                {
                    // Leave anyway; the exit code says an exception escaped.
                }
                ChildRuntime.Exit(ExitCodes.UnhandledException);
            }
        }
    }

    /// <summary>One registration; disposing it removes it (a fork already under way may still run it once).</summary>
    internal sealed class Registration(Action? before, Action? afterInParent, Action? afterInChild) : IDisposable
    {
        private volatile bool disposed;

        internal Action? BeforeFork { get; } = before;

        internal Action? AfterForkInParent { get; } = afterInParent;

        internal Action? AfterForkInChild { get; } = afterInChild;

        internal bool IsActive => !disposed;

        public void Dispose()
        {
            if (disposed)
            {
                return;
            }
            disposed = true;
            Update(current => Array.FindAll(current, r => r != this));
        }
    }
}
