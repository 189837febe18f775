using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace PProcess.Extensions.Logging;

/// <summary>
/// A logger factory whose loggers work in forked children: in the process that made it, its
/// loggers are the wrapped factory's; in a child (which inherited them, with providers whose
/// threads exist only in the parent), a record is not given to the providers but sent to the parent
/// (<see cref="ChildMessages"/>), where the wrapped factory's loggers log it, in the child's order,
/// inside a scope that names the child's pid and job (<see cref="Fork.CurrentJob"/>: for a PMap, the
/// element). The scopes open in the child when it logged, the parent's included, go with it. A
/// child's records have all been logged once the parent has reaped it; a child that logs faster than
/// the parent's providers take records waits (the console provider's queue of 2,500 neither loses
/// records nor hangs the child). A grandchild's records go up through its parent.
/// </summary>
/// <remarks>
/// Make it before the first fork (children forked earlier cannot send), and dispose it after the
/// last child has been reaped: disposing hands on what has arrived, then disposes the wrapped
/// factory. A child that cannot send (a background process, detached from its starter) writes its
/// records to its standard error (its log file). <c>AddForkedChildren</c> makes one for a host.
/// </remarks>
public sealed class ForkedChildrenLoggerFactory : ILoggerFactory
{
    /// <summary>The topic of <see cref="ChildMessages"/> that carries log records.</summary>
    internal const string Topic = "PProcess.Extensions.Logging";

    private readonly ILoggerFactory inner;
    private readonly int ownerPid = Environment.ProcessId;
    private readonly ConcurrentDictionary<string, ForkAwareLogger> loggers = new(StringComparer.Ordinal);
    private readonly IDisposable subscription;
    private int disposed;

    /// <summary>Wraps <paramref name="inner"/>, whose providers log what this process and its children log; disposing this disposes it.</summary>
    public ForkedChildrenLoggerFactory(ILoggerFactory inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        this.inner = inner;
        subscription = ChildMessages.Subscribe(Topic, Receive);
    }

    /// <summary>The scopes opened through this factory's loggers, which go with a child's records.</summary>
    internal LoggerExternalScopeProvider Scopes { get; } = new();

    /// <summary>True in the process that made the factory: its providers work here.</summary>
    internal bool IsOwner => Environment.ProcessId == ownerPid;

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName)
    {
        ArgumentNullException.ThrowIfNull(categoryName);
        return loggers.GetOrAdd(categoryName, static (name, factory) => new ForkAwareLogger(name, factory.inner.CreateLogger(name), factory), this);
    }

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>Hands on the records children have sent so far, then disposes the wrapped factory (which flushes its providers).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }
        if (IsOwner)
        {
            ChildMessages.Flush();
        }
        subscription.Dispose();
        inner.Dispose();
    }

    /// <summary>
    /// An execution context with no async-local values (captured on a thread started without the
    /// caller's flow): records are replayed in it, so that the scopes of the thread that happens to
    /// hand them on (a map's enumerating thread flushing at the end, inside the caller's own
    /// BeginScope) are not added to the child's. Once 125 of 4,000 records of LoggingTests' volume
    /// scenario came out as "request 42 => ChildPid:... => request 42".
    /// </summary>
    private static readonly ExecutionContext NoScopes = CaptureEmptyContext();

    private static ExecutionContext CaptureEmptyContext()
    {
        ExecutionContext? captured = null;
        using (ExecutionContext.SuppressFlow())
        {
            var thread = new Thread(() => captured = ExecutionContext.Capture());
            thread.Start();
            thread.Join();
        }
        return captured!;
    }

    /// <summary>A child's record: logged by the wrapped factory's logger of its category, in a scope naming the child, and in no scope of the thread that hands it on.</summary>
    private void Receive(ChildMessage message) =>
        ExecutionContext.Run(NoScopes, static state => { var (factory, m) = ((ForkedChildrenLoggerFactory, ChildMessage))state!; factory.ReceiveCore(m); }, (this, message));

    private void ReceiveCore(ChildMessage message)
    {
        ChildLogRecord record;
        try
        {
            record = ChildLogRecord.Read(message.Payload);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or IOException or ArgumentException)
        {
            Console.Error.WriteLine($"PProcess.Extensions.Logging: child {message.Pid} sent a log record that does not read back ({e.Message}); it is dropped.");
            return;
        }
        // In a child, its own children's records: logged through this factory's logger, they go further up.
        var logger = IsOwner ? loggers.GetOrAdd(record.Category, static (name, factory) => new ForkAwareLogger(name, factory.inner.CreateLogger(name), factory), this).Inner
            : CreateLogger(record.Category);
        var scopes = new List<IDisposable?> { logger.BeginScope(new ChildScope(message.Pid, record.Job)) };
        try
        {
            foreach (var scope in record.Scopes)
            {
                scopes.Add(logger.BeginScope(new RelayedPairs(scope.Pairs, scope.Text ?? "")));
            }
            var exception = record.Exception is { } e ? new ChildLoggedException(e.Type, e.Message, e.Text) : null;
            logger.Log(record.Level, new EventId(record.EventId, record.EventName), new RelayedPairs(record.Properties, record.Message), exception,
                static (state, _) => state.Text);
        }
        finally
        {
            for (int i = scopes.Count - 1; i >= 0; i--)
            {
                scopes[i]?.Dispose();
            }
        }
    }
}
