using System.Reflection;

namespace PProcess.Runtime;

/// <summary>
/// The id of the running process, kept correct across forks. <see cref="Environment.ProcessId"/>
/// caches the pid on first use, so a forked child would see its parent's pid there; the child
/// updates this value, and clears that cache, right after the fork.
/// </summary>
internal static class ProcessIdentity
{
    private static int current = Native.LibC.GetPid();

    internal static int Current => Volatile.Read(ref current);

    /// <summary>Called in a freshly forked child.</summary>
    internal static void RefreshInChild()
    {
        Volatile.Write(ref current, Native.LibC.GetPid());
        var cache = typeof(Environment).GetField("s_processId", BindingFlags.Static | BindingFlags.NonPublic);
        if (cache is not null && cache.FieldType == typeof(int))
        {
            cache.SetValue(null, 0);
        }
    }
}
