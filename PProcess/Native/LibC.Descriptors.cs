using T = Tmds.Linux.LibC;

namespace PProcess.Native;

/// <summary>Reading, writing and closing descriptors; eventfd (Tmds.LibC).</summary>
internal static unsafe partial class LibC
{
    internal static int Close(int fd) => T.close(fd);

    /// <summary>read(2), restarted after EINTR; the byte count, 0 at end of file, or -1.</summary>
    internal static long Read(int fd, void* buffer, nuint length) => Restart(&ReadOnce, fd, buffer, length, 0);

    /// <summary>write(2), restarted after EINTR.</summary>
    internal static long Write(int fd, void* buffer, nuint length) => Restart(&WriteOnce, fd, buffer, length, 0);

    /// <summary>recv(2) with <paramref name="flags"/> (MSG_PEEK, MSG_DONTWAIT), restarted after EINTR.</summary>
    internal static long Receive(int fd, void* buffer, nuint length, int flags) => Restart(&ReceiveOnce, fd, buffer, length, flags);

    private static long ReadOnce(int fd, void* buffer, nuint length, int flags) => T.read(fd, buffer, (Tmds.Linux.size_t)(ulong)length);

    private static long WriteOnce(int fd, void* buffer, nuint length, int flags) => T.write(fd, buffer, (Tmds.Linux.size_t)(ulong)length);

    private static long ReceiveOnce(int fd, void* buffer, nuint length, int flags) => T.recv(fd, buffer, (Tmds.Linux.size_t)(ulong)length, flags);

    internal static int Dup(int fd) => T.dup(fd);

    internal static int Dup2(int fd, int target) => T.dup2(fd, target);

    /// <summary>open(2) of <paramref name="path"/>; the descriptor or -1.</summary>
    internal static int Open(string path, int flags, int mode)
    {
        fixed (byte* p = Path(path))
        {
            return T.open(p, flags, (ushort)mode);
        }
    }

    /// <summary>eventfd(2), non-blocking and close-on-exec: a counter that poll sees as readable while it is not zero.</summary>
    internal static int EventFd() => T.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    /// <summary>Adds one to an eventfd: wakes whoever polls it; never blocks.</summary>
    internal static void Wake(int eventFd)
    {
        ulong one = 1;
        Write(eventFd, &one, sizeof(ulong));
    }

    /// <summary>Resets an eventfd to zero (consumes its wake-ups); never blocks.</summary>
    internal static void Drain(int eventFd)
    {
        ulong count;
        Read(eventFd, &count, sizeof(ulong));
    }

    /// <summary>A path as libc wants it: UTF-8, NUL-terminated.</summary>
    private static byte[] Path(string path) => System.Text.Encoding.UTF8.GetBytes(path + "\0");
}
