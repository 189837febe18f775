using System.Runtime.ExceptionServices;

namespace PProcess.Mapping;

/// <summary>
/// A run of consecutive elements of the source, from <see cref="Start"/>, that one child computes
/// as one job: its elements (for a source that is not a list), its results once they arrive, and
/// the failure of the element after them, if one failed.
/// </summary>
internal sealed class Chunk<T, TResult>(long start, int count, T[]? elements)
{
    /// <summary>The position in the source (for a list, the index) of the chunk's first element.</summary>
    internal long Start { get; } = start;

    internal int Count { get; } = count;

    internal long End => Start + Count;

    /// <summary>The elements, read from a source that is not a list; null for an index range.</summary>
    internal T[]? Elements { get; } = elements;

    /// <summary>
    /// Its elements cannot cross through the serializer: a child is forked for the chunk, with the
    /// elements in its closure.
    /// </summary>
    internal bool NeedsFork { get; set; }

    /// <summary>The failure is the source's own, not an element's: it ends even a map that goes on past failed elements.</summary>
    internal bool SourceFailed { get; set; }

    /// <summary>True once the results (or a failure) are in.</summary>
    internal bool Done { get; private set; }

    /// <summary>The results, in order; fewer than <see cref="Count"/> when an element failed.</summary>
    internal TResult[] Results { get; private set; } = [];

    /// <summary>The failure of the element after <see cref="Results"/>, or null.</summary>
    internal ExceptionDispatchInfo? Failure { get; private set; }

    /// <summary>The element at <paramref name="index"/> in the chunk, for a name in an error message (null for an index range: see the source).</summary>
    internal T? ElementAt(int index) => Elements is { } e ? e[index] : default;

    internal void Complete(TResult[] results, Exception? failure)
    {
        Results = results;
        Failure = failure is null ? null : ExceptionDispatchInfo.Capture(failure);
        Done = true;
    }

    /// <summary>The chunk's first <paramref name="count"/> elements, as a chunk of their own.</summary>
    internal Chunk<T, TResult> Prefix(int count) => new(Start, count, Elements?[..count]);

    /// <summary>The chunk's elements from <paramref name="offset"/> on, as a chunk of their own.</summary>
    internal Chunk<T, TResult> Suffix(int offset) => new(Start + offset, Count - offset, Elements?[offset..]);

    public override string ToString() => Count == 1 ? $"element {Start}" : $"elements {Start}-{End - 1}";
}
