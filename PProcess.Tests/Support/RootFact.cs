using Mono.Unix.Native;

namespace PProcess.Tests.Support;

/// <summary>
/// A fact that plays another user (files owned by uid 65534, a child that drops to it): only root
/// can. Skipped, with the reason shown, where the tests do not run as root (this machine's sessions
/// and CI run as root).
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    /// <summary>The uid that plays the other user.</summary>
    public const uint OtherUser = 65534;

    public RootFactAttribute()
    {
        if (Syscall.geteuid() != 0)
        {
            Skip = "needs root, to create files owned by another user (uid 65534) and to act as that user";
        }
    }
}
