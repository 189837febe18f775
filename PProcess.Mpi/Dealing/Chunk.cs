namespace PProcess.Mpi.Dealing;

/// <summary>A range of source indices dealt to one rank: <see cref="Count"/> elements from <see cref="Start"/>.</summary>
internal readonly record struct Chunk(int Start, int Count)
{
    internal int End => Start + Count;
}
