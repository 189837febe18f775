using System.Globalization;

namespace PProcess.Examples;

/// <summary>
/// The arguments an example takes beyond --delay and --limit (<see cref="Options.Rest"/>): take
/// the ones it knows, then <see cref="ThrowIfAnyLeft"/> rejects the rest. Mistakes are
/// <see cref="ArgumentException"/>s, which the launcher prints with exit code 2.
/// </summary>
public sealed class ExtraArguments(IReadOnlyList<string> rest, string usage)
{
    private readonly List<string> left = [.. rest];

    /// <summary>Takes <c>NAME VALUE</c> as an integer of at least <paramref name="minimum"/>, or returns the default.</summary>
    public int Int(string name, int fallback, int minimum)
    {
        if (Value(name) is not { } text)
        {
            return fallback;
        }
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < minimum)
        {
            throw new ArgumentException($"{name} takes a whole number of at least {minimum}, not '{text}'. {usage}");
        }
        return value;
    }

    /// <summary>Takes <c>NAME VALUE</c>, or returns null.</summary>
    public string? String(string name) => Value(name);

    /// <summary>Takes every <c>NAME VALUE</c> pair, in order.</summary>
    public List<string> All(string name)
    {
        var values = new List<string>();
        while (Value(name) is { } value)
        {
            values.Add(value);
        }
        return values;
    }

    /// <summary>Takes the flag <c>NAME</c>; true if it was there.</summary>
    public bool Flag(string name) => left.Remove(name);

    /// <summary>Takes the first argument that is not an option, or returns null.</summary>
    public string? Positional()
    {
        int i = left.FindIndex(a => !a.StartsWith("--", StringComparison.Ordinal));
        if (i < 0)
        {
            return null;
        }
        var value = left[i];
        left.RemoveAt(i);
        return value;
    }

    /// <summary>Throws if an argument was not taken.</summary>
    public void ThrowIfAnyLeft()
    {
        if (left.Count > 0)
        {
            throw new ArgumentException($"unknown argument{(left.Count > 1 ? "s" : "")}: {string.Join(' ', left)}. {usage}");
        }
    }

    private string? Value(string name)
    {
        int i = left.IndexOf(name);
        if (i < 0)
        {
            return null;
        }
        if (i + 1 >= left.Count)
        {
            throw new ArgumentException($"{name} needs a value. {usage}");
        }
        var value = left[i + 1];
        left.RemoveRange(i, 2);
        return value;
    }
}
