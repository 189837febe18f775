using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>
/// Owns a descriptor: closed once, by Dispose or, if it was leaked, by the finalizer. The number is
/// cached in <see cref="Fd"/> for the calls of a hot path.
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

    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
