using PProcess.Native;
using PProcess.Processes;

namespace PProcess.Exchanges;

/// <summary>What an exchange knows of one child: the job it serves and whether it can take another.</summary>
internal sealed class Worker(Channel channel, long ticket, object? reuseKey)
{
    internal Channel Channel { get; } = channel;

    /// <summary>The sequence number of the job the child serves (the order of Start or Create calls), or -1.</summary>
    internal long Ticket { get; private set; } = ticket;

    /// <summary>The reusable job (MakeReusable) the child runs, or null: a child that serves one job and exits.</summary>
    internal object? ReuseKey { get; } = reuseKey;

    internal WorkerState State { get; set; } = WorkerState.Working;

    /// <summary>The jobs the child has answered (<see cref="ExchangeOptions.MaxJobsPerChild"/>).</summary>
    internal int Answered { get; set; }

    /// <summary>How many messages the channel had received when the current job was handed over.</summary>
    private long messagesAtAssignment = channel.MessagesReceived;

    /// <summary>True while the current job's result has not arrived.</summary>
    internal bool AwaitingResult => State == WorkerState.Working && Channel.MessagesReceived == messagesAtAssignment;

    /// <summary>When the current job must be done.</summary>
    internal Deadline Deadline { get; set; } = Deadline.Never;

    /// <summary>Records that the child now serves another job.</summary>
    internal void Assign(long ticket, JobName name, Deadline deadline)
    {
        Ticket = ticket;
        Channel.AssignJob(name);
        messagesAtAssignment = Channel.MessagesReceived;
        State = WorkerState.Working;
        Deadline = deadline;
    }
}

/// <summary>Where a child stands in an exchange.</summary>
internal enum WorkerState
{
    /// <summary>Running a job (or, in continuous mode, sending its messages).</summary>
    Working,

    /// <summary>A reusable child that has answered and waits for another job.</summary>
    Idle,

    /// <summary>A reusable child that was told to quit and is exiting.</summary>
    Quitting,
}
