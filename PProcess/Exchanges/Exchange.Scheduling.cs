using PProcess.Exchanges;
using PProcess.Native;

namespace PProcess;

/// <summary>
/// The exchange's scheduler: a started job is queued, then given to a new child while the limit
/// allows, or, with <see cref="ExchangeOptions.Reuse"/>, handed to an idle child of the same
/// reusable job over its channel; an idle child that no queued job can use is told to quit.
/// </summary>
public partial class Exchange
{
    private void Enqueue(Delegate callable, IParallelJob? job, Action<Channel>? body, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(callable);
        Tasks.AsyncJobs.RefuseAsync(callable, "Exchange.Start");
        ThrowIfDisposed();
        var node = queue.Add(callable, job, body, args);
        try
        {
            StartWaiting();
        }
        catch (ForkException) when (node.List is not null)
        {
            // Not accepted: the caller sees the error, and the job does not run later behind its back.
            queue.Withdraw(node);
            throw;
        }
    }

    private void Launch(PendingJob job)
    {
        job.Prepare();
        Watch(new Worker(Fork.Spawn(job.Body, job.Name, channelOptions), job.Ticket, job.ReuseKey) { Deadline = NewDeadline() });
    }

    /// <summary>
    /// Gives queued jobs to idle reusable children of the same function, or to new children while
    /// the limit allows; an idle child that no queued job can use is told to quit, to free its slot.
    /// When nothing is queued or running, idle children are told to quit.
    /// </summary>
    private void StartWaiting()
    {
        int coming = CountIn(WorkerState.Quitting);
        var waiting = queue.Waiting;
        for (var node = waiting.First; node is not null;)
        {
            var next = node.Next;
            var job = node.Value;
            if (Reuse && job.ReuseKey is not null && FindIdle(job.ReuseKey) is { } idle)
            {
                if (HandOver(idle, job))
                {
                    waiting.Remove(node);
                }
                else
                {
                    // That child is gone; look at this job again.
                    next = node;
                }
            }
            else if (set.Count < Limit)
            {
                try
                {
                    Launch(job);
                }
                catch (ForkException shortage) when (shortage.IsResourceShortage && set.Count > 0)
                {
                    // Out of processes or descriptors: the job stays queued, and is tried again
                    // when a running child ends and gives its resources back.
                    break;
                }
                waiting.Remove(node);
            }
            else if (coming > 0)
            {
                coming--;
            }
            else if (FindIdle(null) is { } unused)
            {
                Quit(unused);
            }
            else
            {
                break;
            }
            node = next;
        }
        if (waiting.Count == 0 && CountIn(WorkerState.Working) == 0 && CountIn(WorkerState.Idle) > 0)
        {
            foreach (var worker in Workers.Where(w => w.State == WorkerState.Idle).ToList())
            {
                Quit(worker);
            }
        }
    }

    private Worker? FindIdle(object? reuseKey)
    {
        var entries = set.Entries;
        for (int i = 0; i < entries.Count; i++)
        {
            var worker = entries[i].Owner;
            if (worker.State == WorkerState.Idle && (reuseKey is null || ReferenceEquals(worker.ReuseKey, reuseKey)))
            {
                return worker;
            }
        }
        return null;
    }

    /// <summary>
    /// Sends a queued job's arguments to an idle child. False if the child is gone. Arguments that
    /// cannot be serialised fail that job (true: it is dealt with) and leave the child idle.
    /// </summary>
    private bool HandOver(Worker worker, PendingJob job)
    {
        try
        {
            job.HandOver(worker.Channel);
        }
        catch (ChannelSerializationException refused) when (!worker.Channel.IsFaulted)
        {
            Fail(worker.Channel, job.Ticket, new ChannelSerializationException(
                $"The arguments of job {job.Name} could not be sent to reused child {worker.Channel.Pid}: {refused.Message}",
                refused.ValueType, refused));
            return true;
        }
        catch (Exception e) when (e is IOException or ChannelSerializationException)
        {
            // The child is gone, or its stream broke: its end is seen and judged by a later round.
            worker.State = WorkerState.Quitting;
            return false;
        }
        worker.Assign(job.Ticket, job.Label, NewDeadline());
        return true;
    }

    /// <summary>After a ready channel was served: a reusable child that has answered waits for another job, or quits.</summary>
    private void Answered(Worker worker)
    {
        if (Continuous || worker.ReuseKey is null || worker.State != WorkerState.Working || worker.AwaitingResult)
        {
            return;
        }
        if (Reuse && ++worker.Answered < maxJobsPerChild.GetValueOrDefault(int.MaxValue))
        {
            worker.State = WorkerState.Idle;
            worker.Deadline = Deadline.Never;
        }
        else
        {
            // A MakeReusable job in an exchange without reuse (one job per child, as with
            // MakeParallel), or a child that has answered MaxJobsPerChild jobs: it leaves owing nothing.
            Quit(worker);
        }
    }

    private static void Quit(Worker worker)
    {
        worker.State = WorkerState.Quitting;
        try
        {
            worker.Channel.SendQuit();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or ChannelProtocolException)
        {
            // Already gone: its end of stream is judged as usual.
        }
    }
}
