using PProcess.Native;

namespace PProcess.Persistence;

/// <summary>
/// The socket file a background process made at its address, known by device and inode (taken
/// right after bind, in a directory only its user can write to). The daemon compares its path with
/// it on every wake: a file removed or replaced there means nobody can reach the daemon any more,
/// and it ends instead of waiting for ever; and it removes only its own file, never one that took
/// its place.
/// </summary>
internal sealed record SocketFile(string Path, FileStatus Identity)
{
    /// <summary>The socket file just bound at <paramref name="path"/>.</summary>
    internal static SocketFile Bound(string path)
    {
        if (LibC.Stat(path, followLinks: false, out var status) != 0 || status.Type != LibC.S_IFSOCK)
        {
            throw new PersistentProcessException($"The socket file at '{path}' vanished or changed right after it was made.", path);
        }
        return new SocketFile(path, status);
    }

    /// <summary>True while the path still names this socket file.</summary>
    internal bool IsAtItsPath() =>
        LibC.Stat(Path, followLinks: false, out var now) == 0 && now.Type == LibC.S_IFSOCK && now.IsSameFile(Identity);

    /// <summary>Removes the file at the path if it is still this one.</summary>
    internal void RemoveIfAtItsPath()
    {
        if (IsAtItsPath())
        {
            LibC.Unlink(Path);
        }
    }
}
