using System.Text;

namespace PProcess.Processes;

/// <summary>Readable names for jobs, for error messages: "Program.Calculate(3, 4)".</summary>
internal static class JobNames
{
    private const int MaxArgument = 40;

    internal static string Describe(Delegate callable, params object?[] args)
    {
        while (callable.Target is IWrappedJob wrapped)
        {
            callable = wrapped.Inner; // the user's function, not the library's wrapper around it
        }
        var method = callable.Method;
        var type = method.DeclaringType;
        string name;
        if (method.Name.StartsWith('<'))
        {
            // A lambda: "<Main>b__0_0" in a closure class "<>c" or "<>c__DisplayClass0_0".
            int end = method.Name.IndexOf('>');
            var outer = type?.DeclaringType ?? type;
            name = $"lambda in {outer?.Name}.{(end > 1 ? method.Name[1..end] : method.Name)}";
        }
        else
        {
            name = $"{type?.Name}.{method.Name}";
        }
        var text = new StringBuilder(name).Append('(');
        for (int i = 0; i < args.Length; i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }
            var arg = args[i] switch
            {
                null => "null",
                string s => '"' + s + '"',
                var other => other.ToString() ?? "",
            };
            text.Append(arg.Length > MaxArgument ? arg[..MaxArgument] + "..." : arg);
        }
        return text.Append(')').ToString();
    }
}

/// <summary>A delegate's target that wraps the user's function (an async selector awaited in the child): named after that function.</summary>
internal interface IWrappedJob
{
    Delegate Inner { get; }
}

/// <summary>
/// A job's name, made only when something reads it (an error message, <see cref="Channel.Job"/>):
/// formatting it took more time and memory than the rest of handing a job to a reused child
/// (docs/performance.md, "The exchange's own cost per reused job").
/// </summary>
internal sealed class JobName(long? ticket, Delegate callable, object?[] args)
{
    private string? text;

    /// <summary>"#3 Program.Calculate(3, 4)" (without the ticket for a persistent job).</summary>
    public override string ToString() =>
        text ??= ticket is { } t ? $"#{t} {JobNames.Describe(callable, args)}" : JobNames.Describe(callable, args);
}
