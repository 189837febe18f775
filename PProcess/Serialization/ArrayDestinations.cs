using System.Collections.Concurrent;
using System.Reflection;

namespace PProcess.Serialization;

/// <summary>
/// A serializer whose large arrays a channel can receive straight into their final memory: given
/// the start of a large value frame's payload, it names the array the rest of the payload's bytes
/// are that array's memory (docs/channels.md, "Large arrays"). The channel's inbox then reads those
/// bytes from the transport into the array, one copy instead of two (into segments, then into the array).
/// </summary>
internal interface IArrayDestinations
{
    /// <summary>
    /// The array the payload of a value frame of <paramref name="format"/> and <paramref name="length"/>
    /// bytes is read into, its memory starting after the payload's first <paramref name="prefixLength"/>
    /// bytes. Null when the payload is not such an array; or when <paramref name="start"/> (what has
    /// arrived of the payload) does not yet hold all of those first bytes, <paramref name="prefixLength"/>
    /// then saying how many it needs. Never throws for what a peer wrote.
    /// </summary>
    Array? Destination(byte format, long length, ReadOnlySpan<byte> start, out int prefixLength);
}

/// <summary>A payload reader that may hold the array a payload's memory was received into (<see cref="IArrayDestinations"/>).</summary>
internal interface IPreparedArrayReader
{
    /// <summary>
    /// The array holding the rest of the payload if it is an array of <paramref name="elementType"/>
    /// of <paramref name="byteLength"/> bytes, which are then read; otherwise null, and nothing is read.
    /// </summary>
    Array? TakeArray(Type elementType, long byteLength);
}

/// <summary>Arrays of a type known at run time, allocated without zeroing (their memory is overwritten whole).</summary>
internal static class UninitializedArrays
{
    private static readonly MethodInfo Allocate = typeof(GC).GetMethod(nameof(GC.AllocateUninitializedArray))!;
    private static readonly ConcurrentDictionary<Type, Func<int, bool, Array>> Allocators = new();

    /// <summary>A new array of <paramref name="count"/> values of the unmanaged type <paramref name="element"/>, not zeroed.</summary>
    internal static Array Create(Type element, int count) =>
        Allocators.GetOrAdd(element, static t => (Func<int, bool, Array>)Allocate.MakeGenericMethod(t)
            .CreateDelegate(typeof(Func<,,>).MakeGenericType(typeof(int), typeof(bool), t.MakeArrayType())))(count, false);
}
