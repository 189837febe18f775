namespace PProcess.Runtime;

/// <summary>
/// In a child: what it is working on, as its errors name it, for <see cref="Fork.CurrentJob"/>
/// (a log record's scope, say). A string, or an object that names the element a PMap child is
/// computing when it is asked (formatting it for every element would cost more than a small element).
/// </summary>
internal static class CurrentJob
{
    private static object? job;

    internal static void Set(object? name) => Volatile.Write(ref job, name);

    internal static string? Describe() => Volatile.Read(ref job)?.ToString();
}
