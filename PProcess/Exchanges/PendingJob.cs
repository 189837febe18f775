namespace PProcess.Exchanges;

/// <summary>
/// A job waiting for a child: what a new child runs (<paramref name="Body"/>), its name and
/// sequence number, and for a reusable job (MakeReusable) the job it belongs to and how to hand
/// its arguments to an idle child of that job instead of forking.
/// </summary>
internal sealed record PendingJob(Action<Channel> Body, string Name, long Ticket, Delegate Callable, object? ReuseKey, Action<Channel>? HandOver);
