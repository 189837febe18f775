namespace PProcess.Mapping;

/// <summary>What a map knows of one of its children: its channel, its progress slot, and the chunk it computes.</summary>
internal sealed class MapWorker<T, TResult>(Channel channel, int slot, bool kept)
{
    internal Channel Channel { get; } = channel;

    /// <summary>The child's slot in the map's <see cref="ProgressBoard"/>.</summary>
    internal int Slot { get; } = slot;

    /// <summary>True for a child that serves chunks until told to quit; false for one forked for one chunk.</summary>
    internal bool Kept { get; } = kept;

    /// <summary>The chunk whose results the child owes, or null.</summary>
    internal Chunk<T, TResult>? Chunk { get; set; }

    /// <summary>The managed id of the thread that forked the child: the child dies with that thread (docs/fork-safety.md, rule 15).</summary>
    internal int ForkThread { get; } = Environment.CurrentManagedThreadId;

    /// <summary>The elements the child has computed (<see cref="PMapOptions.MaxElementsPerChild"/>).</summary>
    internal int Computed { get; set; }

    /// <summary>True once the map has let the child go (reaped, or told to quit).</summary>
    internal bool Gone { get; set; }
}
