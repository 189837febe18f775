using System.Runtime.CompilerServices;
using PProcess.Mapping;
using PProcess.Tasks;

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
        AsyncJobs.RefuseTaskResult<TResult>("PMap",
            "Give it an async selector that returns a value (async x => { await ...; return result; }): PMap awaits it in the child. " +
            "A selector that returns a plain Task has no result to send.");
        options = ReadOnce(options);
        options.CheckMode(outcomes: false);
        return options.Mode == PMapMode.ForkPerElement
            ? ForkPerElementMap.Run(source, selector, options, cancellationToken)
            : ChunkedMap<T, TResult>.Run(source, selector, options, cancellationToken);
    }

    /// <summary>
    /// As <see cref="PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>
    /// with an asynchronous selector: each element's task is awaited in the child that computes it
    /// (the child's own thread pool runs its continuations), and only its result crosses back. A child
    /// awaits its elements one after another; the children run in parallel.
    /// </summary>
    [OverloadResolutionPriority(1)] // an async lambda converts to a Task- and a ValueTask-returning selector alike: Task's is meant
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, Task<TResult>> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default) =>
        source.PMap(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>As <see cref="PMap{T, TResult}(IEnumerable{T}, Func{T, Task{TResult}}, PMapOptions?, CancellationToken)"/>, with a selector that returns a <see cref="ValueTask{TResult}"/>.</summary>
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, ValueTask<TResult>> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default) =>
        source.PMap(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>
    /// PMap as an asynchronous stream: the same engine and options, run on a thread of its own (a
    /// child dies with the thread that forked it, and an awaiting caller moves between pool threads),
    /// and the results handed to the caller in the order of <paramref name="source"/> as they come, a
    /// bounded number ahead. Cancelling <paramref name="cancellationToken"/> (or the one given to
    /// <c>WithCancellation</c>) kills and reaps the children and raises
    /// <see cref="OperationCanceledException"/>; ending the enumeration early (a <c>break</c> out of
    /// <c>await foreach</c>) kills and reaps them too. Failures are raised at their element, as PMap's.
    /// </summary>
    public static IAsyncEnumerable<TResult> PMapAsync<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        AsyncJobs.RefuseTaskResult<TResult>("PMapAsync",
            "Give it an async selector that returns a value (async x => { await ...; return result; }): it is awaited in the child.");
        options = ReadOnce(options);
        options.CheckMode(outcomes: false);
        return AsyncMap.Run(token => source.PMap(selector, options, token), options, cancellationToken);
    }

    /// <summary>As <see cref="PMapAsync{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with an asynchronous selector awaited in the child.</summary>
    [OverloadResolutionPriority(1)]
    public static IAsyncEnumerable<TResult> PMapAsync<T, TResult>(this IEnumerable<T> source, Func<T, Task<TResult>> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default) =>
        source.PMapAsync(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>As <see cref="PMapAsync{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with a selector that returns a <see cref="ValueTask{TResult}"/>.</summary>
    public static IAsyncEnumerable<TResult> PMapAsync<T, TResult>(this IEnumerable<T> source, Func<T, ValueTask<TResult>> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default) =>
        source.PMapAsync(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>
    /// As <see cref="PMapAsync{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>
    /// over an asynchronous source: its elements are read, a bounded window ahead, on the map's own
    /// thread, and cross to the children as the elements of any stream do (through the serializer,
    /// or in the closure of a child forked per chunk).
    /// </summary>
    public static IAsyncEnumerable<TResult> PMapAsync<T, TResult>(this IAsyncEnumerable<T> source, Func<T, TResult> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        AsyncJobs.RefuseTaskResult<TResult>("PMapAsync",
            "Give it an async selector that returns a value (async x => { await ...; return result; }): it is awaited in the child.");
        options = ReadOnce(options);
        options.CheckMode(outcomes: false);
        return AsyncMap.Run(token => AsyncMap.Blocking(source, token).PMap(selector, options, token), options, cancellationToken);
    }

    /// <summary>As <see cref="PMapAsync{T, TResult}(IAsyncEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with an asynchronous selector awaited in the child.</summary>
    [OverloadResolutionPriority(1)]
    public static IAsyncEnumerable<TResult> PMapAsync<T, TResult>(this IAsyncEnumerable<T> source, Func<T, Task<TResult>> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default) =>
        source.PMapAsync(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>As <see cref="PMapAsync{T, TResult}(IAsyncEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with a selector that returns a <see cref="ValueTask{TResult}"/>.</summary>
    public static IAsyncEnumerable<TResult> PMapAsync<T, TResult>(this IAsyncEnumerable<T> source, Func<T, ValueTask<TResult>> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default) =>
        source.PMapAsync(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>
    /// As <see cref="PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>,
    /// going on past failed elements: yields each element's <see cref="Outcome{T}"/> in the order of
    /// <paramref name="source"/>, its result or the exception that ended it (a <see cref="RemoteException"/>
    /// with the child's stack, a <see cref="ChildExitedException"/> for a child that died computing it,
    /// a <see cref="ChildTimeoutException"/>, or, after <see cref="PMapOptions.Retries"/>, a
    /// <see cref="RetriesExhaustedException"/>), so that one bad element does not cost the others.
    /// The elements after a failed one in its chunk are computed again elsewhere; none is lost or
    /// yielded twice. An exception of the source itself still ends the enumeration, after the
    /// outcomes before it. <see cref="PMapMode.Adaptive"/> mode only.
    /// </summary>
    public static IEnumerable<Outcome<TResult>> PMapOutcomes<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        AsyncJobs.RefuseTaskResult<TResult>("PMapOutcomes",
            "Give it an async selector that returns a value (async x => { await ...; return result; }): it is awaited in the child.");
        options = ReadOnce(options);
        options.CheckMode(outcomes: true);
        return ChunkedMap<T, TResult>.RunOutcomes(source, selector, options, cancellationToken);
    }

    /// <summary>As <see cref="PMapOutcomes{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with an asynchronous selector awaited in the child.</summary>
    [OverloadResolutionPriority(1)]
    public static IEnumerable<Outcome<TResult>> PMapOutcomes<T, TResult>(this IEnumerable<T> source, Func<T, Task<TResult>> selector, PMapOptions? options = null,
        CancellationToken cancellationToken = default) =>
        source.PMapOutcomes(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>
    /// <see cref="PMapOutcomes{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>
    /// as an asynchronous stream, run as <see cref="PMapAsync{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/> is.
    /// </summary>
    public static IAsyncEnumerable<Outcome<TResult>> PMapOutcomesAsync<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector,
        PMapOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(selector);
        options = ReadOnce(options);
        options.CheckMode(outcomes: true);
        return AsyncMap.Run(token => source.PMapOutcomes(selector, options, token), options, cancellationToken);
    }

    /// <summary>As <see cref="PMapOutcomesAsync{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with an asynchronous selector awaited in the child.</summary>
    [OverloadResolutionPriority(1)]
    public static IAsyncEnumerable<Outcome<TResult>> PMapOutcomesAsync<T, TResult>(this IEnumerable<T> source, Func<T, Task<TResult>> selector,
        PMapOptions? options = null, CancellationToken cancellationToken = default) =>
        source.PMapOutcomesAsync(new AwaitedSelector<T, TResult>(selector).Invoke, options, cancellationToken);

    /// <summary>As <see cref="PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>, with at most <paramref name="limit"/> children alive at once.</summary>
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, TResult> selector, int limit) =>
        source.PMap(selector, new PMapOptions { Limit = limit });

    /// <summary>As <see cref="PMap{T, TResult}(IEnumerable{T}, Func{T, Task{TResult}}, PMapOptions?, CancellationToken)"/>, with at most <paramref name="limit"/> children alive at once.</summary>
    [OverloadResolutionPriority(1)]
    public static IEnumerable<TResult> PMap<T, TResult>(this IEnumerable<T> source, Func<T, Task<TResult>> selector, int limit) =>
        source.PMap(selector, new PMapOptions { Limit = limit });

    /// <summary>The options as they are at the call: a map starts when it is enumerated, with these settings.</summary>
    private static PMapOptions ReadOnce(PMapOptions? options) => options is null ? new PMapOptions() : ChannelOptions.Snapshot(options);
}
