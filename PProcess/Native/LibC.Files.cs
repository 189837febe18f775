using T = Tmds.Linux.LibC;

namespace PProcess.Native;

/// <summary>What stat(2) says about a file, for the checks of a background process's files.</summary>
internal readonly record struct FileStatus(ulong Device, ulong Inode, int Mode, uint Uid, ulong Links)
{
    /// <summary>The file type bits (st_mode &amp; S_IFMT).</summary>
    internal int Type => Mode & LibC.S_IFMT;

    /// <summary>The permission bits, sticky bit included (st_mode &amp; 07777).</summary>
    internal int Permissions => Mode & 0b111_111_111_111;

    /// <summary>True for the same file: the same inode on the same device.</summary>
    internal bool IsSameFile(FileStatus other) => Device == other.Device && Inode == other.Inode;
}

/// <summary>File status and modes (Tmds.LibC).</summary>
internal static unsafe partial class LibC
{
    /// <summary>stat(2), or lstat(2) when <paramref name="followLinks"/> is false: 0, or -1 with errno set.</summary>
    internal static int Stat(string path, bool followLinks, out FileStatus status)
    {
        Tmds.Linux.stat info;
        int result;
        fixed (byte* p = Path(path))
        {
            result = followLinks ? T.stat(p, &info) : T.lstat(p, &info);
        }
        status = result == 0 ? From(info) : default;
        return result;
    }

    /// <summary>fstat(2) of an open descriptor: 0, or -1 with errno set.</summary>
    internal static int Stat(int fd, out FileStatus status)
    {
        Tmds.Linux.stat info;
        int result = T.fstat(fd, &info);
        status = result == 0 ? From(info) : default;
        return result;
    }

    /// <summary>
    /// fchmod(2). On a socket that is not bound yet it sets the mode the socket file will have at
    /// bind (the kernel creates it with this mode less the umask): no chmod on a path afterwards.
    /// </summary>
    internal static int FChmod(int fd, int mode) => T.fchmod(fd, (ushort)mode);

    /// <summary>fcntl(F_SETFL): sets a descriptor's status flags (O_APPEND, O_NONBLOCK); 0 or -1.</summary>
    internal static int SetStatusFlags(int fd, int flags) => T.fcntl(fd, F_SETFL, flags);

    private static FileStatus From(in Tmds.Linux.stat info) =>
        new((ulong)info.st_dev, (ulong)info.st_ino, (ushort)info.st_mode, (uint)info.st_uid, (ulong)info.st_nlink);
}
