using PProcess.Native;
using PProcess.Persistence;
using PProcess.Runtime;
using PProcess.Serialization;

namespace PProcess;

/// <summary>
/// A background process as its starter sees it: a daemon listening at <see cref="Address"/>
/// that runs a job and holds every result until a collector has received them all and
/// confirmed. It is in a session of its own with no controlling terminal, is not killed when
/// its starter ends (no PR_SET_PDEATHSIG: the deliberate exception to the rule that children die
/// with their parent, docs/fork-safety.md), has its standard streams on /dev/null or a log file, and holds no other descriptor of its
/// starter. Disposing this object only closes the starter's side: the process goes on.
/// </summary>
public sealed class BackgroundProcess : IDisposable
{
    private readonly Channel status;
    private readonly KnownProcess process;

    private BackgroundProcess(string address, KnownProcess process, Channel status)
    {
        Address = address;
        this.process = process;
        this.status = status;
    }

    /// <summary>The absolute path of the socket the process listens on.</summary>
    public string Address { get; }

    /// <summary>The background process's pid (it is not a child of the starter).</summary>
    public int Pid => process.Pid;

    /// <summary>True once the job has ended and every result is held, ready to collect.</summary>
    public bool Computed { get; private set; }

    /// <summary>The number of results (values and errors) held, once <see cref="Computed"/>.</summary>
    public long ResultCount { get; private set; }

    /// <summary>The channel on which the process says it has computed (or ends, if it died).</summary>
    internal Channel StatusChannel => status;

    /// <summary>
    /// Blocks until the job has ended and its results are held. Throws
    /// <see cref="PersistentProcessException"/> if the process died first.
    /// </summary>
    public void WaitUntilComputed()
    {
        while (!Computed)
        {
            if (status.IsClosed)
            {
                throw Died();
            }
            ReadStatus();
        }
    }

    /// <summary>
    /// Reads what the process said on its status channel: its result count when computed, or
    /// end of stream. Returns false when the process died before it had computed.
    /// </summary>
    internal bool ReadStatus()
    {
        if (Computed || status.IsClosed)
        {
            return Computed;
        }
        try
        {
            if (status.TryReceive(out var count) && count is long n)
            {
                ResultCount = n;
                Computed = true;
            }
        }
        catch (Exception e) when (e is IOException or ChannelProtocolException)
        {
            // Treated as the process's end below.
        }
        status.Close();
        return Computed;
    }

    internal PersistentProcessException Died() => new(
        $"The background process {Pid} at '{Address}' ended before its job finished: it crashed or was killed, and its " +
        "results are lost.", Address);

    /// <summary>
    /// Sends SIGKILL to the background process, to end one whose results are no longer wanted (its
    /// job hangs, say): nothing else stops it before its results are collected. Its socket file stays
    /// behind (stale), and a later start at the address replaces it. Once the process has ended, nothing is sent, even to another process that
    /// has its pid by then (the pid and the start time name it, and a pidfd holds it while it is signalled).
    /// </summary>
    public void Kill() => process.Signal(Signals.SIGKILL);

    /// <summary>Closes the starter's status channel; the background process is not affected.</summary>
    public void Dispose() => status.Close();

    /// <inheritdoc />
    public override string ToString() => $"BackgroundProcess({Pid} at {Address})";

    /// <summary>
    /// Starts a background process at <paramref name="address"/> running <paramref name="body"/>.
    /// Returns once the process listens there, so a collector can connect at once. Errors with the
    /// address (too long, no such directory, in use, a log file that cannot be opened) are raised
    /// here, in the starter.
    /// </summary>
    internal static BackgroundProcess Start(string address, Action<Channel> body, string job, PersistentExchangeOptions options)
    {
        ArgumentNullException.ThrowIfNull(body);
        var path = UnixSocketAddress.Validate(address);
        ForkGuard.ThrowIfUnsafe();
        // Closed in this process on every path once the daemon has them (the first child inherits them).
        using var log = new SafeDescriptor(OpenOutput(options.LogPath, path));
        var (listenFd, file) = UnixSocketAddress.Listen(path);
        using var listen = new SafeDescriptor(listenFd);
        int logFd = log.Fd;
        var description = $"background process at '{path}' ({job})";
        // What this process's standard streams are: the daemon finds the console's duplicates of them by it
        // (a child's descriptor 2 is its parent's relay, so only the starter knows its standard error).
        var streams = new[] { Target(0), Target(1), Target(2) };
        ChildPath.Prepare(body);
        // The daemon, a grandchild, writes to the starter's channel: a shared-memory region is not
        // inherited past the first fork (it is marked MADV_DONTFORK), a socket is.
        var socket = options.ChannelSettings();
        socket.Transport = ChannelTransportKind.Socket;
        Channel starter;
        try
        {
            // The first child starts a new session and forks the daemon, which is then reparented
            // to init (or the nearest subreaper) when the first child exits: it can never regain a
            // controlling terminal, and its starter has no zombie to reap.
            starter = Fork.Spawn(
                channel => Detach(channel, listenFd, logFd, streams, file, body, description, options, socket),
                $"starter of the {description}", socket, dieWithParent: false);
        }
        catch
        {
            file.RemoveIfAtItsPath();
            throw;
        }
        listen.Dispose();
        log.Dispose();
        try
        {
            // Sent by the daemon itself, the status channel's only writer (RunDaemon).
            var daemon = new KnownProcess(starter.Receive<int>(), starter.Receive<long>());
            starter.Wait();
            return new BackgroundProcess(path, daemon, starter);
        }
        catch (ChildProcessException e)
        {
            starter.Dispose();
            file.RemoveIfAtItsPath();
            throw new PersistentProcessException($"The background process at '{path}' could not be started: {e.Message}", path, e);
        }
    }

    /// <summary>
    /// The daemon's standard output: /dev/null, or the log file, appended. The log is opened without
    /// following a symbolic link (O_NOFOLLOW), and only a regular file of this user with one link is
    /// kept: in a directory others can write to (/tmp), another user may have planted a link or a file
    /// there, and root's job output must not go through it. Opened non-blocking, so that a FIFO put
    /// there does not hold the open; the flag is cleared once the file is known to be regular.
    /// </summary>
    private static int OpenOutput(string? logPath, string address)
    {
        if (logPath is null)
        {
            int devNull = LibC.Open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC, 0);
            return devNull >= 0 ? devNull : throw CannotOpen("/dev/null", address, LibC.Error("open", LibC.LastError).Message);
        }
        using var log = new SafeDescriptor(LibC.Open(logPath, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND | LibC.O_NOFOLLOW | LibC.O_NONBLOCK | LibC.O_CLOEXEC,
            0b110_000_000 /* 0600 */));
        int fd = log.Fd;
        if (fd < 0)
        {
            int errno = LibC.LastError;
            throw CannotOpen(logPath, address, errno == Errno.ELOOP
                ? "it is a symbolic link, which is not followed (another user may have planted it); name the file itself"
                : LibC.Error("open", errno).Message);
        }
        string? problem = LibC.Stat(fd, out var file) != 0 ? LibC.Error("fstat", LibC.LastError).Message
            : file.Type != LibC.S_IFREG ? "it is not a regular file"
            : file.Uid != LibC.GetEffectiveUid() ? $"it belongs to uid {file.Uid}, not to this user (uid {LibC.GetEffectiveUid()}); remove it or choose another path"
            : file.Links != 1 ? $"it has {file.Links} hard links, and another user may have made one of them; name a file with one link"
            : LibC.SetStatusFlags(fd, LibC.O_APPEND) != 0 ? LibC.Error("fcntl", LibC.LastError).Message
            : null;
        if (problem is not null)
        {
            throw CannotOpen(logPath, address, problem);
        }
        return log.Transfer();
    }

    private static PersistentProcessException CannotOpen(string log, string address, string why) =>
        new($"The log file '{log}' for the background process at '{address}' cannot be used: {why}.", address);


    /// <summary>
    /// In the first child: a new session, then the daemon forked through the one fork path
    /// (<see cref="Fork.Spawn"/>, not killed with this child), and this child leaves. It writes
    /// nothing to the status channel: the daemon reports itself there (<see cref="RunDaemon"/>).
    /// </summary>
    private static void Detach(Channel channel, int listenFd, int logFd, string?[] streams, SocketFile file, Action<Channel> body,
        string description, PersistentExchangeOptions options, ChannelOptions socket)
    {
        if (LibC.SetSid() < 0)
        {
            throw LibC.Error("setsid", LibC.LastError);
        }
        // Detached from its starter: no message of it or of the daemon goes up (ChildMessages).
        ChildMessageRelay.Detach();
        int statusFd = channel.FileDescriptor;
        // Kept: the status channel is the daemon's now, not a descriptor to close after the fork.
        DescriptorRegistry.Remove(statusFd);
        var daemon = Fork.Spawn(link => RunDaemon(link, statusFd, listenFd, logFd, streams, file, body, description, options),
            description, socket, dieWithParent: false);
        TestHooks.FirstChildLeaving?.Invoke(daemon.Pid, statusFd);
        // Not reaped (nor killed): when this child exits, the daemon is reparented to init.
        daemon.Close();
    }

    /// <summary>
    /// In the daemon: standard streams to the log, every other inherited descriptor closed, its pid
    /// and start time reported, then the job and its collectors.
    /// </summary>
    private static void RunDaemon(Channel link, int statusFd, int listenFd, int logFd, string?[] streams, SocketFile file, Action<Channel> body,
        string description, PersistentExchangeOptions options)
    {
        // The channel to the first child, which is leaving, is closed with the rest below; so is the way to its messages.
        DescriptorRegistry.Remove(link.FileDescriptor);
        ChildMessageRelay.Detach();
        RedirectStandardStreams(logFd);
        CloseAllExcept(listenFd, statusFd, streams, options.KeepDescriptors);
        // The job's own child must not hold them.
        DescriptorRegistry.Add(listenFd);
        DescriptorRegistry.Add(statusFd);
        var status = new Channel(new Transports.SocketTransport(statusFd), null, null, options.Serializer) { PeerDescription = "the starter" };
        // The daemon is the status channel's only writer: its pid and start time, then its result
        // count, in that order. When the first child sent the pid and start time, a short job's
        // count could reach the starter before them (Start read a long where it expected the pid:
        // seen under load). The start time is read by the process itself, so its pid cannot have
        // changed hands: the starter's Kill signals it by both.
        var known = KnownProcess.Of(ProcessIdentity.Current);
        try
        {
            status.Send(known.Pid);
            status.Send(known.StartTime);
        }
        catch (IOException)
        {
            // The starter has gone: nobody waits for this news.
        }
        int code = Daemon.Run(listenFd, file, status, body, description, options);
        ChildRuntime.Exit(code);
    }

    /// <summary>
    /// Standard input reads /dev/null; output and error go to the log file (or /dev/null).
    /// They are replaced, not closed: a closed descriptor 1 makes the first write fail (pprocess's
    /// fault), or worse, lets a later open take number 1.
    /// </summary>
    private static void RedirectStandardStreams(int logFd)
    {
        int devNull = LibC.Open("/dev/null", LibC.O_RDWR, 0);
        if (devNull >= 0)
        {
            LibC.Dup2(devNull, 0);
            if (devNull > 2)
            {
                LibC.Close(devNull);
            }
        }
        LibC.Dup2(logFd, 1);
        LibC.Dup2(logFd, 2);
        LibC.Close(logFd);
    }

    /// <summary>
    /// Closes every descriptor above 2 that the starter left open in this process (its files,
    /// sockets, pipes: a pipe a caller reads to its end would otherwise stay open for the
    /// daemon's whole life), except the two the daemon needs and those the user asked to keep
    /// (<see cref="PersistentExchangeOptions.KeepDescriptors"/>). A descriptor that was the same file
    /// as the starter's standard output or error (<paramref name="streams"/>), which is what
    /// <see cref="Console.Out"/> and <see cref="Console.Error"/> write through once the starter used
    /// them (the runtime duplicates 1 and 2), is pointed at the log instead, and one that was its
    /// standard input at /dev/null: closed, the job's Console.WriteLine failed with EBADF, or wrote
    /// into whatever the number was reused for.
    /// </summary>
    private static void CloseAllExcept(int listenFd, int statusFd, string?[] streams, IReadOnlyList<int> keep)
    {
        string[] entries;
        try
        {
            entries = Directory.GetFiles("/proc/self/fd").Select(Path.GetFileName).ToArray()!;
        }
        catch (IOException)
        {
            return;
        }
        foreach (var entry in entries)
        {
            if (!int.TryParse(entry, out int fd) || fd <= 2 || fd == listenFd || fd == statusFd || keep.Contains(fd))
            {
                continue;
            }
            var target = Target(fd);
            if (target is not null && (target == streams[1] || target == streams[2]))
            {
                LibC.Dup2(1, fd);
            }
            else if (target is not null && target == streams[0])
            {
                LibC.Dup2(0, fd);
            }
            else
            {
                LibC.Close(fd);
            }
        }
    }

    /// <summary>What a descriptor of this process refers to ("/dev/pts/0", "pipe:[1234]", a path), or null.</summary>
    private static string? Target(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
