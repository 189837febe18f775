using PProcess.Mpi.Dealing;

namespace PProcess.Mpi;

/// <summary>PMap across the ranks of an MPI job: each rank forks for its share, and the results are gathered in order.</summary>
public static class MpiPMapExtensions
{
    /// <summary>
    /// Applies <paramref name="selector"/> to every element of <paramref name="source"/> in child
    /// processes spread over the ranks of an MPI job, and returns the results in source order on
    /// rank 0 (on every rank with <see cref="MpiPMapOptions.ResultsOnEveryRank"/>). A collective
    /// call: under a launcher, every rank must call it with the same list and options (the program
    /// is SPMD: every rank builds the same state), and it returns on each rank when the map is
    /// over. Each rank runs PMap over the index ranges dealt to it, so the selector sees that rank's
    /// memory at the fork, as on one machine; only results cross between ranks, through the
    /// serializer. Outside a launcher (or with one rank) it is PMap on this machine and loads no MPI.
    /// A failed element ends the map: the results before it are kept, and reading it raises its
    /// exception (across ranks a <see cref="RankFailureException"/> naming the element, the rank and the
    /// child's stack; on one machine what PMap raised). A failure of the map itself on a rank (MPI,
    /// a mismatch between ranks, a rank silent past <see cref="MpiPMapOptions.RankSilenceTimeout"/>,
    /// a map past <see cref="MpiPMapOptions.MapTimeout"/>) ends the whole job through MPI_Abort, with
    /// the cause, naming the rank, on that rank's standard error, so that no rank waits for ever.
    /// The two deadlines apply across ranks; on one machine, bound each element with
    /// <see cref="MpiPMapOptions.JobTimeout"/>.
    /// </summary>
    /// <param name="source">The elements; the same on every rank.</param>
    /// <param name="selector">The work for one element, run in a child of the rank the element is dealt to. It must not call MPI.</param>
    /// <param name="options">Limits, dealing and where the results go; the same on every rank.</param>
    public static MpiResults<TResult> PMapAcrossRanks<T, TResult>(this IList<T> source, Func<T, TResult> selector, MpiPMapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        options ??= new MpiPMapOptions();
        options.Validate();
        if (!MpiWorld.IsLaunched || MpiWorld.Size == 1)
        {
            return OnOneMachine(source, selector, options);
        }
        try
        {
            return new RankMap<T, TResult>(source, selector, options).Run();
        }
        catch (Exception e)
        {
            MpiWorld.Abort(e.ToString());
            throw;
        }
    }

    private static MpiResults<TResult> OnOneMachine<T, TResult>(IList<T> source, Func<T, TResult> selector, MpiPMapOptions options)
    {
        var results = new List<TResult>(source.Count);
        Exception? failure = null;
        try
        {
            foreach (var result in source.PMap(selector, options.ToPMapOptions()))
            {
                results.Add(result);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        return new MpiResults<TResult>(source.Count, [.. results], failure, 0);
    }
}
