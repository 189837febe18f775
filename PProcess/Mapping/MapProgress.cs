namespace PProcess;

/// <summary>
/// How far a <see cref="PMapExtensions.PMap{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>
/// or a <see cref="Map{TResult}"/> is, as reported to <see cref="PMapOptions.Progress"/> or <see cref="ExchangeOptions.Progress"/>.
/// </summary>
/// <param name="Done">Elements (PMap) or jobs (Map) whose result or failure has arrived.</param>
/// <param name="Total">
/// How many there are in all, when known: for PMap over an array, a list or another collection
/// that knows its count; null for other sources, and for a Map (which cannot know how many jobs will be started).
/// </param>
public readonly record struct MapProgress(long Done, long? Total)
{
    /// <summary>The fraction done, from 0 to 1, when the total is known; otherwise null.</summary>
    public double? Fraction => Total is { } total ? (total == 0 ? 1 : (double)Done / total) : null;
}
