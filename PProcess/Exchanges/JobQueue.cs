using PProcess.Processes;

namespace PProcess.Exchanges;

/// <summary>
/// The one job queue of <see cref="Exchange"/> and <see cref="PersistentExchange"/>: the jobs
/// waiting for a child, the limit of children at work, the sequence of tickets, and the failures
/// not raised yet (several children can fail in one round; each is raised by its own call).
/// </summary>
internal sealed class JobQueue(string limitName)
{
    private readonly Queue<Exception> failures = new();
    private int limit = 1;

    /// <summary>The jobs not started yet, in order.</summary>
    internal LinkedList<PendingJob> Waiting { get; } = new();

    /// <summary>The most children at work at once; at least 1.</summary>
    internal int Limit
    {
        get => limit;
        set => limit = value >= 1
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, $"{limitName} must be at least 1.");
    }

    /// <summary>The number of jobs queued so far; the next job's ticket.</summary>
    internal long Tickets { get; private set; }

    internal bool HasFailures => failures.Count > 0;

    /// <summary>True once the exchange that owns the queue is disposed.</summary>
    internal bool IsClosed { get; private set; }

    /// <summary>Drops the queued jobs and refuses more; false if it was closed already.</summary>
    internal bool Close()
    {
        if (IsClosed)
        {
            return false;
        }
        IsClosed = true;
        Waiting.Clear();
        return true;
    }

    /// <summary>Uses up the next ticket for a job that is not queued (a child made by Exchange.Create).</summary>
    internal long TakeTicket() => Tickets++;

    /// <summary>
    /// Queues a job named after <paramref name="callable"/> (or the function a MakeParallel job
    /// wraps) and its arguments. <paramref name="body"/>: what its child runs, or null to have
    /// <paramref name="job"/> make it from the arguments. <paramref name="address"/>: a persistent job's socket.
    /// </summary>
    internal LinkedListNode<PendingJob> Add(Delegate callable, IParallelJob? job, Action<Channel>? body, object?[] args, string? address = null)
    {
        long ticket = Tickets++;
        // A persistent job is named by its address's process, not by a number in this run.
        var name = new JobName(address is null ? ticket : null, job?.Function ?? callable, args);
        return Waiting.AddLast(new PendingJob(name, ticket, callable, job, body, args, address));
    }

    /// <summary>Takes back a job that was refused at once (its ticket too), so that it does not run later behind the caller's back.</summary>
    internal void Withdraw(LinkedListNode<PendingJob> node)
    {
        Waiting.Remove(node);
        Tickets--;
    }

    internal void Fail(Exception failure) => failures.Enqueue(failure);

    internal void ThrowPendingFailure()
    {
        if (failures.TryDequeue(out var failure))
        {
            throw failure;
        }
    }
}
