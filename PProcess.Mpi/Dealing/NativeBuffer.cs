using System.Runtime.InteropServices;

namespace PProcess.Mpi.Dealing;

/// <summary>
/// Unmanaged memory for MPI messages. MPI is never handed managed memory: a non-blocking send
/// reads its buffer after the call returns, when the GC may have moved an array, and a transport
/// that registers memory may mark its pages MADV_DONTFORK, which must never be the GC heap that
/// forked children read.
/// </summary>
internal sealed unsafe class NativeBuffer : IDisposable
{
    internal NativeBuffer(int length)
    {
        Length = length;
        Pointer = (byte*)NativeMemory.Alloc((nuint)Math.Max(length, 1));
    }

    internal byte* Pointer { get; private set; }

    internal int Length { get; }

    internal Span<byte> Span => new(Pointer, Length);

    public void Dispose()
    {
        if (Pointer != null)
        {
            NativeMemory.Free(Pointer);
            Pointer = null;
        }
    }
}
