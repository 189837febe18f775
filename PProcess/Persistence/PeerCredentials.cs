using PProcess.Native;

namespace PProcess.Persistence;

/// <summary>
/// The credentials the kernel recorded for the peer of a connected Unix socket (SO_PEERCRED):
/// they cannot be forged by the peer, and are read without reading any byte it sent.
/// </summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    internal static PeerCredentials Of(int fd)
    {
        if (LibC.PeerCredentials(fd, out int pid, out uint uid, out uint gid) != 0)
        {
            throw LibC.Error("getsockopt(SO_PEERCRED)", LibC.LastError);
        }
        return new PeerCredentials(pid, uid, gid);
    }

    /// <summary>True when the peer runs as the same effective user as this process.</summary>
    internal bool IsSameUser => Uid == LibC.GetEffectiveUid();
}
