namespace PProcess.Tests.Docs;

/// <summary>
/// A fenced C# block of a markdown document. A block opened with <c>```csharp</c> is a complete
/// program: the suite compiles it and runs it. One opened with <c>```csharp fragment</c> is an
/// excerpt on purpose (of an example program, say): it is only parsed.
/// </summary>
public sealed record CodeBlock(string Document, int Line, bool IsFragment, string Code)
{
    /// <summary>Where the block is, as "docs/tutorial.md:42", for test names and messages.</summary>
    public string Name => $"{Document}:{Line}";

    public override string ToString() => Name;

    /// <summary>The C# blocks of <paramref name="document"/> (a path relative to <paramref name="root"/>), in order.</summary>
    public static IEnumerable<CodeBlock> Read(string root, string document)
    {
        var lines = File.ReadAllLines(Path.Combine(root, document));
        for (int i = 0; i < lines.Length; i++)
        {
            var fence = lines[i].Trim();
            if (!fence.StartsWith("```", StringComparison.Ordinal) || fence == "```")
            {
                continue;
            }
            var words = fence[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            int start = i + 1;
            int end = start;
            while (end < lines.Length && lines[end].Trim() != "```")
            {
                end++;
            }
            if (end == lines.Length)
            {
                throw new InvalidDataException($"{document}:{i + 1}: a code block that is never closed");
            }
            if (words[0] is "csharp" or "cs" or "c#")
            {
                bool fragment = words.Length > 1 && words[1] == "fragment";
                if (words.Length > (fragment ? 2 : 1))
                {
                    throw new InvalidDataException($"{document}:{i + 1}: unknown block marker '{fence}' (use ```csharp or ```csharp fragment)");
                }
                yield return new CodeBlock(document, i + 1, fragment, string.Join('\n', lines[start..end]));
            }
            i = end;
        }
    }
}
