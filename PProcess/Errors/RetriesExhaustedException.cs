using System.Text;

namespace PProcess;

/// <summary>
/// An element (or a pool's job) that failed on each of its attempts, each on a fresh child
/// (<see cref="PMapOptions.Retries"/>, <see cref="WorkerPoolOptions.Retries"/>): every attempt's
/// exception in order, with its child's pid and how it ended. <see cref="ChildProcessException.Pid"/>
/// and <see cref="Exception.InnerException"/> are the last attempt's.
/// </summary>
public sealed class RetriesExhaustedException : ChildProcessException
{
    internal RetriesExhaustedException(string? job, IReadOnlyList<Exception> attempts)
        : base(BuildMessage(job, attempts), PidOf(attempts[^1]), job, attempts[^1]) => Attempts = attempts;

    /// <summary>Each attempt's failure, first to last.</summary>
    public IReadOnlyList<Exception> Attempts { get; }

    private static int PidOf(Exception attempt) => attempt is ChildProcessException child ? child.Pid : 0;

    private static string BuildMessage(string? job, IReadOnlyList<Exception> attempts)
    {
        var text = new StringBuilder($"{job ?? "The job"} failed on each of its {attempts.Count} attempts:");
        for (int i = 0; i < attempts.Count; i++)
        {
            text.Append($" {i + 1}. {Attempt(attempts[i])}").Append(i + 1 < attempts.Count ? ";" : ".");
        }
        return text.ToString();
    }

    /// <summary>"child 1234 was killed by signal 9 (SIGKILL)", "child 1240 threw System.FormatException: no 7".</summary>
    private static string Attempt(Exception attempt) => attempt switch
    {
        ChildExitedException exited => $"child {exited.Pid} {exited.Status}",
        ChildTimeoutException late => $"child {late.Pid} ran longer than {late.Timeout.TotalSeconds:0.###} s and was killed",
        RemoteException remote => $"child {remote.Pid} threw {remote.RemoteType}: {remote.RemoteMessage}",
        ChildProcessException child => $"child {child.Pid}: {child.Message}",
        _ => $"{attempt.GetType().FullName}: {attempt.Message}",
    };
}
