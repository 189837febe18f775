namespace PProcess.Exchanges;

/// <summary>
/// A job waiting for a child: what the child runs (<paramref name="Body"/>), its name and sequence
/// number, the delegates to compile before the fork (the job's own, and the plain function a
/// MakeParallel job wraps), and for a reusable job the job it belongs to
/// and how to hand its arguments to an idle child of that job instead of forking. A persistent
/// exchange's job has the <paramref name="Address"/> its background process listens at.
/// </summary>
internal sealed record PendingJob(Action<Channel> Body, string Name, long Ticket, Delegate Callable, Delegate? Function, object? ReuseKey,
    Action<Channel>? HandOver, string? Address = null)
{
    /// <summary>Compiles the job's delegates now, so that every child inherits them compiled.</summary>
    internal void Prepare()
    {
        Runtime.ChildPath.Prepare(Callable);
        Runtime.ChildPath.Prepare(Function);
    }
}
