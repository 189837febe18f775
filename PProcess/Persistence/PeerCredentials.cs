using Mono.Unix.Native;
using PProcess.Native;

namespace PProcess.Persistence;

/// <summary>
/// The credentials the kernel recorded for the peer of a connected Unix socket (SO_PEERCRED):
/// they cannot be forged by the peer, and are read without reading any byte it sent.
/// </summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    internal static unsafe PeerCredentials Of(int fd)
    {
        LibC.UCred cred;
        uint length = (uint)sizeof(LibC.UCred);
        if (LibC.GetSockOpt(fd, LibC.SOL_SOCKET, LibC.SO_PEERCRED, &cred, ref length) != 0)
        {
            throw NativeErrors.Error("getsockopt(SO_PEERCRED)", NativeErrors.FromLastPInvoke());
        }
        return new PeerCredentials(cred.Pid, cred.Uid, cred.Gid);
    }

    /// <summary>True when the peer runs as the same effective user as this process.</summary>
    internal bool IsSameUser => Uid == Syscall.geteuid();
}
