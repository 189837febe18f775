namespace PProcess.Extensions.Logging;

/// <summary>
/// The exception a child logged, as the parent's providers see it: the child's exception does not
/// cross, its type, message and text (stack trace and inner exceptions) do. <see cref="ToString"/>
/// is the child's text, so a provider prints what the child would have.
/// </summary>
public sealed class ChildLoggedException : Exception
{
    private readonly string text;

    internal ChildLoggedException(string type, string message, string text)
        : base(message)
    {
        RemoteType = type;
        this.text = text;
    }

    /// <summary>The full name of the exception's type in the child.</summary>
    public string RemoteType { get; }

    /// <summary>The child's exception as its <c>ToString()</c> gave it: type, message, stack, inner exceptions.</summary>
    public override string ToString() => text;
}
