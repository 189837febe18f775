using PProcess.Serialization;

namespace PProcess.Mapping;

/// <summary>
/// Whether the elements of a source that is not a list can cross to a kept child through the
/// serializer, arriving equal to what was read. The default serializer carries unmanaged values
/// (primitives, enums, structs without references), strings, and arrays of them exactly; other
/// types take its JSON path, which drops private state without a word (a class whose fields are
/// private arrives empty), so their chunks are not sent: a child is forked for each chunk with
/// the elements in its closure. A serializer of the user's own (MemoryPack, say) is trusted with
/// any element; a chunk it refuses is forked for too.
/// </summary>
internal static class ElementCarriage
{
    internal static bool Carries<T>(IChannelSerializer serializer) =>
        serializer is not DefaultChannelSerializer || IsExact(typeof(T));

    private static bool IsExact(Type type) =>
        type == typeof(string)
        || TypeNames.IsUnmanaged(type)
        || (type.IsSZArray && IsExact(type.GetElementType()!));
}
