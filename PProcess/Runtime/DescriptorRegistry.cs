using System.Collections.Immutable;
using Mono.Unix.Native;

namespace PProcess.Runtime;

/// <summary>
/// The parent-side channel descriptors open in this process. A child closes all of them right
/// after the fork, so that it holds no end of its siblings' channels (which would keep those
/// channels from reporting a hang-up, and leak descriptors). Lock-free, because a lock held by
/// another thread at the moment of the fork would stay held for ever in the child.
/// </summary>
internal static class DescriptorRegistry
{
    private static ImmutableHashSet<int> open = [];

    internal static void Add(int fd) => ImmutableInterlocked.Update(ref open, static (set, fd) => set.Add(fd), fd);

    internal static void Remove(int fd) => ImmutableInterlocked.Update(ref open, static (set, fd) => set.Remove(fd), fd);

    /// <summary>In a freshly forked child: close every registered descriptor.</summary>
    internal static void CloseAllInChild()
    {
        foreach (var fd in Volatile.Read(ref open))
        {
            Syscall.close(fd);
        }
        Volatile.Write(ref open, []);
    }
}
