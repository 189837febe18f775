using PProcess.Native;

namespace PProcess;

/// <summary>How a child process ended, as waitpid reported it.</summary>
/// <param name="ExitCode">The exit code, when the child exited normally; otherwise null.</param>
/// <param name="Signal">The number of the signal that killed the child; otherwise null.</param>
/// <param name="CoreDumped">True when the kernel wrote a core dump.</param>
public readonly record struct ChildStatus(int? ExitCode, int? Signal, bool CoreDumped)
{
    /// <summary>True when the child exited with code 0.</summary>
    public bool Succeeded => ExitCode == 0;

    /// <summary>The name of the signal that killed the child, such as SIGKILL, or null.</summary>
    public string? SignalName => Signal is int s ? Signals.Name(s) : null;

    /// <summary>"exited with code 3" or "was killed by signal 9 (SIGKILL)".</summary>
    public override string ToString() =>
        Signal is int s ? $"was killed by signal {s} ({Signals.Name(s)}){(CoreDumped ? ", core dumped" : "")}" : $"exited with code {ExitCode}";

    internal static ChildStatus FromWaitStatus(int status)
    {
        // The layout of a Linux wait status: low 7 bits the terminating signal (0 when exited),
        // bit 7 the core-dump flag, bits 8-15 the exit code.
        int signal = status & 0x7f;
        if (signal == 0)
        {
            return new ChildStatus((status >> 8) & 0xff, null, false);
        }
        return new ChildStatus(null, signal, (status & 0x80) != 0);
    }
}
