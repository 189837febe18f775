using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>
/// Owns a shared anonymous mapping (<see cref="LibC.MapShared"/>): unmapped once every user has
/// released it (DangerousAddRef / DangerousRelease count the users; Dispose releases the owner's share).
/// </summary>
internal sealed class SafeMapping : SafeHandle
{
    private SafeMapping(nint address, nuint length)
        : base(0, ownsHandle: true)
    {
        SetHandle(address);
        Length = length;
    }

    /// <summary>Maps <paramref name="length"/> bytes; null with errno set when mmap fails.</summary>
    internal static SafeMapping? Create(nuint length)
    {
        nint address = LibC.MapShared(length);
        return address == 0 ? null : new SafeMapping(address, length);
    }

    internal nint Address => handle;

    internal nuint Length { get; }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => LibC.Unmap(handle, Length) == 0;
}
