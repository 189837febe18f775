using Microsoft.Extensions.Logging;

namespace PProcess.Extensions.Logging;

/// <summary>
/// A logger of <see cref="ForkedChildrenLoggerFactory"/>: the wrapped factory's in the process that
/// made it; in a child, one that sends each record to the parent. Its scopes are kept by the
/// factory too, so that those open in the parent at a fork go with the child's records.
/// </summary>
internal sealed class ForkAwareLogger(string category, ILogger inner, ForkedChildrenLoggerFactory factory) : ILogger
{
    internal ILogger Inner => inner;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
    {
        var ours = factory.Scopes.Push(state);
        var theirs = factory.IsOwner ? inner.BeginScope(state) : null;
        return theirs is null ? ours : new Both(ours, theirs);
    }

    /// <summary>The wrapped factory's filters decide, in a child too (they read settings, not threads).</summary>
    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (factory.IsOwner)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
            return;
        }
        if (!inner.IsEnabled(logLevel))
        {
            return;
        }
        var record = new ChildLogRecord(category, logLevel, eventId.Id, eventId.Name, formatter(state, exception), Pairs(state), Scopes(),
            Fork.CurrentJob, exception is null ? null : new ChildLogRecord.Failure(exception.GetType().FullName ?? exception.GetType().Name, exception.Message, exception.ToString()));
        if (!ChildMessages.Send(ForkedChildrenLoggerFactory.Topic, record.Write()))
        {
            // No way up (a background process, or a child forked before the factory was made): its standard error, which is kept.
            Console.Error.WriteLine($"{logLevel}: {category}[{eventId.Id}] (pid {Environment.ProcessId}{(record.Job is null ? "" : ", " + record.Job)}) {record.Message}" +
                (exception is null ? "" : Environment.NewLine + exception));
        }
    }

    private static KeyValuePair<string, string?>[] Pairs(object? state) => state is IEnumerable<KeyValuePair<string, object?>> pairs
        ? [.. pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value?.ToString()))]
        : [];

    private ChildLogRecord.Scope[] Scopes()
    {
        var scopes = new List<ChildLogRecord.Scope>();
        factory.Scopes.ForEachScope(static (scope, list) => list.Add(new ChildLogRecord.Scope(scope?.ToString(), Pairs(scope))), scopes);
        return [.. scopes];
    }

    private sealed class Both(IDisposable ours, IDisposable theirs) : IDisposable
    {
        public void Dispose()
        {
            theirs.Dispose();
            ours.Dispose();
        }
    }
}
