using System.Collections;

namespace PProcess.Extensions.Logging;

/// <summary>
/// A child's record's state, or one of its scopes, as the parent's providers see it: its text, and its
/// named values as text ("{OriginalFormat}" included, for a record).
/// </summary>
internal sealed class RelayedPairs(KeyValuePair<string, string?>[] pairs, string text) : IReadOnlyList<KeyValuePair<string, object?>>
{
    internal string Text => text;

    public KeyValuePair<string, object?> this[int index] => new(pairs[index].Key, pairs[index].Value);

    public int Count => pairs.Length;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => text;
}

/// <summary>The scope a child's records are logged in: "ChildPid:1234 ChildJob:#7 lambda in Program.Main(7)".</summary>
internal sealed class ChildScope(int pid, string? job) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("ChildPid", pid),
        1 => new("ChildJob", job),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public int Count => 2;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        yield return this[0];
        yield return this[1];
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => job is null ? $"ChildPid:{pid}" : $"ChildPid:{pid} ChildJob:{job}";
}
