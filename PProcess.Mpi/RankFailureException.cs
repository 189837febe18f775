using System.Text;

namespace PProcess.Mpi;

/// <summary>
/// An element of a map across ranks failed on some rank: raised at that element on the rank that
/// receives the results. It names the element, the rank and its host, and carries what the rank
/// saw: for an exception thrown by the selector, the child's exception type, message and stack
/// (as <see cref="RemoteException"/> does on one machine); for a child that died or timed out, that
/// error. <see cref="ChildProcessException.Pid"/> and <see cref="ChildProcessException.Job"/> are the
/// child's on that rank. Catch <see cref="ChildProcessException"/> to handle failures the same way on
/// one machine and across ranks.
/// </summary>
public sealed class RankFailureException : ChildProcessException
{
    private readonly RankFailure failure;

    internal RankFailureException(RankFailure failure)
        : base($"Element {failure.Index} failed on rank {failure.Rank} of {failure.Size} ({failure.Host}): {failure.Message}",
            failure.Pid, failure.Job)
    {
        this.failure = failure;
    }

    internal RankFailure Failure => failure;

    /// <summary>The index of the element in the source list.</summary>
    public int Index => failure.Index;

    /// <summary>The rank that ran the element.</summary>
    public int Rank => failure.Rank;

    /// <summary>That rank's host name.</summary>
    public string HostName => failure.Host;

    /// <summary>The full name of the exception type raised on that rank, such as PProcess.RemoteException or PProcess.ChildExitedException.</summary>
    public string RankExceptionType => failure.ExceptionType;

    /// <summary>The child's exception type, such as System.InvalidOperationException (for other failures, <see cref="RankExceptionType"/>).</summary>
    public string RemoteType => failure.RemoteType;

    /// <summary>The child's exception message (for other failures, the message on the rank).</summary>
    public string RemoteMessage => failure.RemoteMessage;

    /// <summary>The child's stack trace, when the selector threw; null when the child left none.</summary>
    public string? RemoteStackTrace => failure.RemoteStackTrace;

    /// <summary>The stack on the rank that ran the element (for a selector's exception, the child's first), then this rank's.</summary>
    public override string? StackTrace
    {
        get
        {
            var local = base.StackTrace;
            if (failure.StackTrace is null)
            {
                return local;
            }
            var text = new StringBuilder(failure.StackTrace);
            text.Append(Environment.NewLine).Append($"   --- End of stack trace from rank {failure.Rank} ({failure.Host}) ---");
            if (local is not null)
            {
                text.Append(Environment.NewLine).Append(local);
            }
            return text.ToString();
        }
    }
}

/// <summary>The wire form of a failed element: what crosses from the rank that ran it to the rank that receives the results.</summary>
internal sealed record RankFailure(
    int Index,
    int Rank,
    int Size,
    string Host,
    string ExceptionType,
    string Message,
    string? StackTrace,
    string RemoteType,
    string RemoteMessage,
    string? RemoteStackTrace,
    int Pid,
    string? Job)
{
    /// <summary>The failure of element <paramref name="index"/>, as this rank raised it.</summary>
    internal static RankFailure From(Exception exception, int index, int rank, int size)
    {
        if (exception is RankFailureException passed)
        {
            return passed.Failure;
        }
        var type = exception.GetType().FullName ?? exception.GetType().Name;
        var (remoteType, remoteMessage, remoteStack) = exception is RemoteException remote
            ? (remote.RemoteType, remote.RemoteMessage, remote.RemoteStackTrace)
            : (type, exception.Message, exception is ChildProcessException ? null : exception.StackTrace);
        var (pid, job) = exception is ChildProcessException child ? (child.Pid, child.Job) : (Environment.ProcessId, null);
        return new RankFailure(index, rank, size, Environment.MachineName, type, exception.Message, exception.StackTrace,
            remoteType, remoteMessage, remoteStack, pid, job);
    }
}
