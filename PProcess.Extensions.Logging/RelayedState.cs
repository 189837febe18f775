using System.Collections;

namespace PProcess.Extensions.Logging;

/// <summary>A child's record as the parent's providers see its state: its message, and its named values as text ("{OriginalFormat}" included).</summary>
internal sealed class RelayedState(ChildLogRecord record) : IReadOnlyList<KeyValuePair<string, object?>>
{
    internal string Message => record.Message;

    public KeyValuePair<string, object?> this[int index] => new(record.Properties[index].Key, record.Properties[index].Value);

    public int Count => record.Properties.Length;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => record.Message;
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

/// <summary>A scope that was open in the child when it logged: its text, and its named values as text.</summary>
internal sealed class RelayedScope(ChildLogRecord.Scope scope) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public KeyValuePair<string, object?> this[int index] => new(scope.Pairs[index].Key, scope.Pairs[index].Value);

    public int Count => scope.Pairs.Length;

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => scope.Text ?? "";
}
