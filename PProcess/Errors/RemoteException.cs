using System.Text;
using PProcess.Errors;

namespace PProcess;

/// <summary>
/// An exception thrown by user code in a child, carried to the parent: the child's exception
/// type name, message and stack trace, and its inner exceptions (as RemoteExceptions). Raised
/// in the parent when a child's job throws; returned, not raised, when a child sends an
/// exception object as an ordinary value.
/// </summary>
public sealed class RemoteException : ChildProcessException
{
    private readonly RemoteError error;

    /// <summary>The wire form this exception was made from, to pass on unchanged.</summary>
    internal RemoteError Error => error;

    internal RemoteException(RemoteError error, int pid, string? job)
        : base(BuildMessage(error, pid, job), pid, job, error.Inner is null ? null : new RemoteException(error.Inner, pid, job))
    {
        this.error = error;
        InnerExceptions = error.InnerExceptions?.Select(e => new RemoteException(e, pid, job)).ToArray() ?? [];
    }

    /// <summary>The full name of the exception's type in the child, such as System.InvalidOperationException.</summary>
    public string RemoteType => error.Type;

    /// <summary>The exception's own message, as the child had it.</summary>
    public string RemoteMessage => error.Message;

    /// <summary>The exception's stack trace in the child.</summary>
    public string? RemoteStackTrace => error.StackTrace;

    /// <summary>For an AggregateException in the child: its inner exceptions.</summary>
    public IReadOnlyList<RemoteException> InnerExceptions { get; }

    /// <summary>The child's stack trace, then the parent's.</summary>
    public override string? StackTrace
    {
        get
        {
            var local = base.StackTrace;
            if (error.StackTrace is null)
            {
                return local;
            }
            var text = new StringBuilder(error.StackTrace);
            text.Append(Environment.NewLine).Append($"   --- End of stack trace from child process {Pid} ---");
            if (local is not null)
            {
                text.Append(Environment.NewLine).Append(local);
            }
            return text.ToString();
        }
    }

    private static string BuildMessage(RemoteError error, int pid, string? job) =>
        $"{error.Type} in {Describe(pid, job)}: {error.Message}";
}
