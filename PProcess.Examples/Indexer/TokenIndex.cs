namespace PProcess.Examples.Indexer;

/// <summary>One file's tokens, as a parser child sends them.</summary>
public sealed record IndexBatch(string File, string[] Tokens);

/// <summary>token -> the files it occurs in, with prefix search (pprocess's Dict.py Indexer and Searcher).</summary>
public sealed class TokenIndex
{
    private readonly Dictionary<string, SortedSet<string>> files = new(StringComparer.Ordinal);
    private string[]? sorted;

    /// <summary>The number of distinct tokens.</summary>
    public int TokenCount => files.Count;

    /// <summary>Adds a file's tokens.</summary>
    public void Add(IndexBatch batch)
    {
        foreach (var token in batch.Tokens)
        {
            if (!files.TryGetValue(token, out var set))
            {
                files[token] = set = new SortedSet<string>(StringComparer.Ordinal);
            }
            set.Add(batch.File);
        }
        sorted = null;
    }

    /// <summary>The tokens that start with <paramref name="prefix"/> (lower-cased), in ordinal order, each with its files.</summary>
    public IEnumerable<(string Token, IReadOnlyCollection<string> Files)> Find(string prefix)
    {
        prefix = prefix.ToLowerInvariant();
        sorted ??= files.Keys.Order(StringComparer.Ordinal).ToArray();
        // The first token not below the prefix; the matches follow it.
        int i = Array.BinarySearch(sorted, prefix, StringComparer.Ordinal);
        for (i = i < 0 ? ~i : i; i < sorted.Length && sorted[i].StartsWith(prefix, StringComparison.Ordinal); i++)
        {
            yield return (sorted[i], files[sorted[i]]);
        }
    }
}
