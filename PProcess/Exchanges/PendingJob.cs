using PProcess.Processes;

namespace PProcess.Exchanges;

/// <summary>
/// A job waiting for a child: its name and sequence number, the delegates to compile before the
/// fork (the one started, and the plain function a MakeParallel job wraps), and what a child runs
/// for it. A MakeParallel or MakeReusable job keeps its arguments, and its child's body is made
/// only when it is forked: a job handed to a reused child sends its arguments and makes nothing
/// else (docs/performance.md, "The exchange's own cost per reused job"). A persistent exchange's
/// job has the <see cref="Address"/> its background process listens at.
/// </summary>
internal sealed class PendingJob(JobName label, long ticket, Delegate callable, IParallelJob? job, Action<Channel>? body, object?[] args,
    string? address)
{
    private Action<Channel>? body = body;

    internal JobName Label { get; } = label;

    internal string Name => Label.ToString();

    internal long Ticket { get; } = ticket;

    /// <summary>The reusable job (MakeReusable) whose idle children can serve this one, or null.</summary>
    internal object? ReuseKey => job is { IsReusable: true } ? job : null;

    internal string? Address { get; } = address;

    /// <summary>What the child runs.</summary>
    internal Action<Channel> Body => body ??= job!.BodyFor(args);

    /// <summary>Hands the job to an idle child of its reusable job: sends its arguments.</summary>
    internal void HandOver(Channel channel) => channel.Send(job!.MessageFor(args));

    /// <summary>Compiles the job's delegates now, so that every child inherits them compiled.</summary>
    internal void Prepare()
    {
        Runtime.ChildPath.Prepare(callable);
        Runtime.ChildPath.Prepare(job?.Function);
    }
}
