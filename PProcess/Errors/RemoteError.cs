namespace PProcess.Errors;

/// <summary>The wire form of an exception: what crosses from a child to its parent.</summary>
internal sealed record RemoteError(
    string Type,
    string Message,
    string? StackTrace,
    RemoteError? Inner,
    RemoteError[]? InnerExceptions)
{
    internal static RemoteError From(Exception exception) => From(exception, depth: 0);

    private static RemoteError From(Exception exception, int depth)
    {
        if (exception is RemoteException remote)
        {
            // A remote exception passed on (by a child, or by a background process) is sent as it
            // arrived: its original type, stack, inner exception and aggregated exceptions.
            return remote.Error;
        }
        RemoteError[]? many = null;
        if (exception is AggregateException aggregate && depth <= 32)
        {
            many = aggregate.InnerExceptions.Select(e => From(e, depth + 1)).ToArray();
        }
        return new RemoteError(
            exception.GetType().FullName ?? exception.GetType().Name,
            exception.Message,
            exception.StackTrace,
            exception.InnerException is null || depth > 32 ? null : From(exception.InnerException, depth + 1),
            many);
    }
}
