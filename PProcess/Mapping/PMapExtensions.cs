using PProcess.Mapping;

namespace PProcess;

/// <summary>pprocess's pmap, as a parallel <c>Select</c> over any sequence.</summary>
public static class PMapExtensions
{
    /// <summary>
    /// Applies <paramref name="selector"/> to each element in child processes and yields the
    /// results in the order of <paramref name="source"/>. Lazy and streaming: nothing runs until
    /// the result is enumerated, the source is read only a bounded window ahead of the consumer,
    /// and results are released once yielded, so an endless source works. The selector sees the
    /// parent's state as it was at the fork (copy-on-write); its result crosses back through the
    /// serializer. By default (<see cref="PMapMode.Adaptive"/>) at most
    /// <see cref="PMapOptions.Limit"/> children are forked when the enumeration starts and serve
    /// chunks of elements; an array or list is handed over as index ranges, which the children read
    /// from their view of it as it was when the map started, so its elements need not be serialisable.
    /// If the selector throws for one element, the results before it are yielded and then the
    /// exception is raised at that element (a <see cref="RemoteException"/> with the child's stack);
    /// a child that dies or runs past <see cref="PMapOptions.JobTimeout"/> is raised at the element
    /// it was computing (a <see cref="ChildExitedException"/> or <see cref="ChildTimeoutException"/>).
    /// </summary>
    /// <param name="source">The elements.</param>
    /// <param name="selector">The work for one element.</param>
    /// <param name="options">The mode, limit, batch size, job timeout, progress and channel settings; by default <see cref="PMapOptions"/>'s.</param>
    /// <param name="cancellationToken">
    /// Cancels the enumeration: the children are killed and reaped and <see cref="OperationCanceledException"/> is raised.
    /// </param>
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        // Read once, here: the map starts when it is enumerated, with the settings of the call.
        options = options is null ? new PMapOptions() : ChannelOptions.Snapshot(options);
        return options.Mode == PMapMode.ForkPerElement
            ? ForkPerElementMap.Run(source, selector, options, cancellationToken)
            : ChunkedMap<T, TResult>.Run(source, selector, options, cancellationToken);
    }

    /// <summary>As <see cref="PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with at most <paramref name="limit"/> children alive at once.</summary>
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, int limit) =>
        source.PMap(selector, new PMapOptions { Limit = limit });
}
