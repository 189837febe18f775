namespace PProcess;

/// <summary>
/// Thrown before a fork when the running process is configured in a way that makes forking
/// unsafe (docs/fork-safety.md). Nothing was forked; the process is unharmed.
/// </summary>
public sealed class ForkSafetyException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ForkSafetyException(string setting, string message) : base(message) => Setting = setting;

    /// <summary>The runtime setting that must change, such as <c>System.Runtime.EnableWriteXorExecute</c>.</summary>
    public string Setting { get; }
}
