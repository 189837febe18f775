using System.Collections;

namespace PProcess.Mpi;

/// <summary>
/// The results of a map across ranks, in source order, on a rank that receives them (rank 0, or
/// every rank with <see cref="MpiPMapOptions.ResultsOnEveryRank"/>). Like PMap, a failed element
/// ends the map: the elements before it are here, and reading it (by index or by enumerating)
/// raises its exception (a <see cref="RankFailureException"/> across ranks; on one machine the exception
/// PMap raised); an element after it was not kept and raises an <see cref="InvalidOperationException"/> naming the failure.
/// On a rank that does not receive the results, reading raises <see cref="InvalidOperationException"/>.
/// </summary>
/// <typeparam name="TResult">The type of each result.</typeparam>
public sealed class MpiResults<TResult> : IReadOnlyList<TResult>
{
    private readonly TResult[]? values;
    private readonly int rank;

    internal MpiResults(int count, TResult[]? values, Exception? failure, int rank)
    {
        Count = count;
        this.values = values;
        Failure = failure;
        this.rank = rank;
    }

    /// <summary>True on a rank that received the results.</summary>
    public bool HasResults => values is not null;

    /// <summary>The number of elements of the source list.</summary>
    public int Count { get; }

    /// <summary>The number of results before the failed element (all of them when none failed).</summary>
    public int Completed => Received().Length;

    /// <summary>The exception of the first failed element in source order, or null when every element succeeded.</summary>
    public Exception? Failure { get; }

    /// <summary>The result of element <paramref name="index"/>; raises the failure at the failed element.</summary>
    public TResult this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            var received = Received();
            if (index < received.Length)
            {
                return received[index];
            }
            if (index == received.Length && Failure is not null)
            {
                throw Failure;
            }
            throw new InvalidOperationException(
                $"Element {index} has no result: the map ended at element {received.Length}, which failed ({Failure?.Message}).", Failure);
        }
    }

    /// <summary>Yields the results in source order, then raises the failure, if any, at its element.</summary>
    public IEnumerator<TResult> GetEnumerator()
    {
        var received = Received();
        foreach (var value in received)
        {
            yield return value;
        }
        if (Failure is not null)
        {
            throw Failure;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private TResult[] Received() => values ?? throw new InvalidOperationException(
        $"The results were gathered on rank 0, and this is rank {rank}: set MpiPMapOptions.ResultsOnEveryRank to have them on every rank.");
}
