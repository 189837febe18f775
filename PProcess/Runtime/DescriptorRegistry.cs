
namespace PProcess.Runtime;

/// <summary>
/// The channel descriptors open in this process that a child must not keep: the parent-side
/// ends of every channel, and in a child its own end to its parent (so that a grandchild does not
/// hold it). A child closes all of them right after the fork, so that it holds no end of its
/// siblings' channels (which would keep those channels from reporting a hang-up, and leak
/// descriptors). Lock-free, because a lock held by another thread at the moment of the fork would
/// stay held for ever in the child; a copy-on-write array, because the child walks it right after
/// the fork and a plain loop needs no code compiled there (an ImmutableHashSet's enumerator cost
/// each child several methods of JIT, seen in a DOTNET_PerfMapEnabled map).
/// </summary>
internal static class DescriptorRegistry
{
    private static int[] open = [];

    internal static void Add(int fd) => Update(fd, add: true);

    internal static void Remove(int fd) => Update(fd, add: false);

    /// <summary>
    /// In a freshly forked child: close every registered descriptor but <paramref name="keep"/>
    /// (the ends of the channel it was forked for, registered before the fork so that the children
    /// of other threads close them), which stay registered.
    /// </summary>
    internal static void CloseAllInChild(int[] keep)
    {
        var fds = Volatile.Read(ref open);
        for (int i = 0; i < fds.Length; i++)
        {
            if (!Contains(keep, fds[i]))
            {
                Native.LibC.Close(fds[i]);
            }
        }
        Volatile.Write(ref open, keep);
    }

    /// <summary>A plain loop: no generic code to compile in a child.</summary>
    private static bool Contains(int[] fds, int fd)
    {
        for (int i = 0; i < fds.Length; i++)
        {
            if (fds[i] == fd)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Unregisters <paramref name="fd"/>, then closes it: no child forked afterwards closes its number, which may be reused.</summary>
    internal static void Close(int fd)
    {
        Remove(fd);
        Native.LibC.Close(fd);
    }

    private static void Update(int fd, bool add)
    {
        while (true)
        {
            var current = Volatile.Read(ref open);
            int at = Array.IndexOf(current, fd);
            if (add == (at >= 0))
            {
                return;
            }
            int[] next;
            if (add)
            {
                next = new int[current.Length + 1];
                current.CopyTo(next, 0);
                next[^1] = fd;
            }
            else
            {
                next = new int[current.Length - 1];
                Array.Copy(current, 0, next, 0, at);
                Array.Copy(current, at + 1, next, at, current.Length - at - 1);
            }
            if (Interlocked.CompareExchange(ref open, next, current) == current)
            {
                return;
            }
        }
    }
}
