using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>
/// Owns a descriptor: closed once, by Dispose or, if it was leaked, by the finalizer. The number is
/// cached in <see cref="Fd"/> for the calls of a hot path. It is unregistered
/// (<see cref="Runtime.DescriptorRegistry"/>) before it is closed: a leaked channel's descriptor,
/// closed by the finalizer, must not stay listed for children to close, since its number goes to the
/// next file the program opens (a child then closed that file: AbandonedEnumeratorTests).
/// </summary>
internal sealed class SafeDescriptor : SafeHandle
{
    internal SafeDescriptor(int fd)
        : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
        Fd = fd;
    }

    internal int Fd { get; }

    public override bool IsInvalid => handle < 0;

    /// <summary>
    /// Hands the descriptor to another owner (a transport that wraps it, a caller that keeps it):
    /// from here on this object no longer closes it. Made with <c>using</c>, an owner closes the
    /// descriptor on every path that fails before the hand-over.
    /// </summary>
    internal int Transfer()
    {
        SetHandleAsInvalid();
        return Fd;
    }

    protected override bool ReleaseHandle()
    {
        Runtime.DescriptorRegistry.Remove((int)handle);
        return LibC.Close((int)handle) == 0;
    }
}
