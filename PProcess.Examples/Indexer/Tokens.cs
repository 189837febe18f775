using System.Text;

namespace PProcess.Examples.Indexer;

/// <summary>The words the indexer keeps: runs of letters and digits, lower-cased, at least <see cref="MinimumLength"/> long.</summary>
public static class Tokens
{
    public const int MinimumLength = 3;

    /// <summary>The distinct tokens of <paramref name="text"/>, in order of first appearance.</summary>
    public static IEnumerable<string> Of(string text)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var word = new StringBuilder();
        foreach (char c in text.Append(' '))
        {
            if (char.IsLetterOrDigit(c))
            {
                word.Append(char.ToLowerInvariant(c));
                continue;
            }
            if (word.Length >= MinimumLength && seen.Add(word.ToString()))
            {
                yield return word.ToString();
            }
            word.Clear();
        }
    }
}
