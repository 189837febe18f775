using PProcess.Native;
using PProcess.Runtime;
using PProcess.Serialization;
using PProcess.Transports;
using PProcess.Channels;
using PProcess.Errors;

namespace PProcess.Persistence;

/// <summary>
/// The life of a background process, after it has detached: it runs the job in a child of its
/// own, holds every result, then serves collectors one at a time until one has received them
/// all and confirmed; then it removes its socket file and exits.
/// </summary>
/// <remarks>
/// The protocol, over the channel framing (docs/persistence.md): the collector sends the number
/// of results it already holds (a long, 0 for a new collector); the daemon answers with the
/// total number of results, then sends the ones from that position on (values as values, a
/// job's exception as an error frame); the collector answers the last with a control frame,
/// the confirmation; the daemon removes its socket file, then closes the connection, and the
/// collector waits for that end of stream. A collector that disconnects before confirming
/// leaves everything in place.
/// Connections are accepted as they come and wait together for their hello, read without
/// blocking and bounded in size and time (<see cref="BoundedFrame"/>), so that a peer that stalls
/// holds nobody; the first to say hello is served. Every wake compares the socket file at the
/// address with the daemon's own (<see cref="SocketFile"/>): once it is removed or replaced, nobody
/// can reach the daemon, and it ends.
/// Only synchronous calls: the process is a forked child, with no thread pool.
/// </remarks>
internal static class Daemon
{
    /// <summary>How long a connected peer may take to send its whole hello (a collector sends it as it connects).</summary>
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How often an idle daemon checks that its socket file is still at its address.</summary>
    private static readonly TimeSpan FileCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>The most connections waiting for their hello at once; more wait in the listen backlog.</summary>
    private const int MaxWaiting = 64;

    /// <summary>A held result: a value, or the error that took its place.</summary>
    private readonly record struct Held(object? Value, RemoteError? Error);

    /// <summary>An accepted connection of this user that has not said all of its hello yet.</summary>
    private sealed record Caller(SafeDescriptor Socket, PeerCredentials Peer, BoundedFrame Hello, Deadline Deadline)
    {
        internal int Fd => Socket.Fd;
    }

    internal static int Run(int listenFd, SocketFile file, Channel status, Action<Channel> body, string description, ChannelOptions options)
    {
        var held = Compute(body, description, options);
        try
        {
            status.Send((long)held.Count);
        }
        catch (IOException)
        {
            // The starter has gone: nobody waits for this news.
        }
        status.Close();
        // How long a collector may leave a result unread, or the confirmation unsent (PersistentExchangeOptions).
        var collectorTimeout = options is PersistentExchangeOptions persistent ? persistent.CollectorTimeout : new PersistentExchangeOptions().CollectorTimeout;
        Serve(listenFd, file, held, options.Serializer, collectorTimeout);
        LibC.Close(listenFd);
        return 0;
    }

    /// <summary>Runs the job in a child and keeps everything it sends, its failure included.</summary>
    private static List<Held> Compute(Action<Channel> body, string description, ChannelOptions options)
    {
        var held = new List<Held>();
        using var worker = Fork.Spawn(body, description, options);
        while (true)
        {
            try
            {
                if (!worker.TryReceive(out var value))
                {
                    break;
                }
                held.Add(new Held(value, null));
            }
            catch (RemoteException e)
            {
                held.Add(new Held(null, RemoteError.From(e)));
            }
            catch (Exception e) when (e is ChildProcessException or ChannelProtocolException or ChannelSerializationException)
            {
                held.Add(new Held(null, RemoteError.From(e)));
                if (e is ChildProcessException || worker.IsFaulted)
                {
                    break;
                }
            }
        }
        return held;
    }

    private static void Serve(int listenFd, SocketFile file, List<Held> held, IChannelSerializer serializer, TimeSpan collectorTimeout)
    {
        var waiting = new List<Caller>();
        try
        {
            while (true)
            {
                if (!file.IsAtItsPath())
                {
                    Console.Error.WriteLine(
                        $"PProcess: the background process at '{file.Path}' ends: its socket file was removed or replaced, so no " +
                        $"collector can reach it, and its {held.Count} results are lost.");
                    return;
                }
                // The first caller whose hello is in is served; those that gave up or ran out of time are dropped.
                if (TakeReady(waiting) is { } caller)
                {
                    if (Session(caller, file, held, serializer, collectorTimeout))
                    {
                        return;
                    }
                    continue;
                }
                if (!Wait(listenFd, waiting))
                {
                    continue;
                }
                int fd = LibC.Accept(listenFd);
                if (fd < 0)
                {
                    if (LibC.LastError is Errno.ECONNABORTED or Errno.EMFILE or Errno.ENFILE or Errno.ENOBUFS or Errno.ENOMEM)
                    {
                        continue;
                    }
                    // The listening socket is unusable: nobody can collect any more.
                    file.RemoveIfAtItsPath();
                    return;
                }
                var socket = new SafeDescriptor(fd);
                if (Admit(socket) is { } peer)
                {
                    waiting.Add(new Caller(socket, peer, new BoundedFrame(fd), Deadline.After(HelloTimeout)));
                }
            }
        }
        finally
        {
            waiting.ForEach(caller => caller.Socket.Dispose());
        }
    }

    /// <summary>
    /// Waits until the listening socket or a waiting caller is readable, a caller's time runs out,
    /// or the socket file is due for a check. True when a connection can be accepted. No more are
    /// accepted while <see cref="MaxWaiting"/> callers wait.
    /// </summary>
    private static bool Wait(int listenFd, List<Caller> waiting)
    {
        Span<PollFd> fds = new PollFd[waiting.Count + 1];
        // poll ignores a negative descriptor.
        fds[0] = PollFd.ForInput(waiting.Count < MaxWaiting ? listenFd : -1);
        var until = Deadline.After(FileCheckInterval);
        for (int i = 0; i < waiting.Count; i++)
        {
            fds[i + 1] = PollFd.ForInput(waiting[i].Fd);
            until = Deadline.Earlier(until, waiting[i].Deadline);
        }
        return LibC.Poll(fds, until) > 0 && fds[0].ReturnedEvents != 0;
    }

    /// <summary>
    /// Reads what each waiting caller has sent, without blocking, and returns the first whose hello
    /// is whole (taken out of the list); closes those refused (ended, or a frame that is not a short
    /// hello) and those whose time ran out. Null when no hello is whole.
    /// </summary>
    private static Caller? TakeReady(List<Caller> waiting)
    {
        Caller? ready = null;
        for (int i = 0; i < waiting.Count; i++)
        {
            var caller = waiting[i];
            var state = caller.Hello.Read();
            if (state == BoundedFrameState.Whole && ready is null)
            {
                ready = caller;
            }
            else if (state == BoundedFrameState.Refused || (state == BoundedFrameState.Partial && caller.Deadline.HasPassed))
            {
                caller.Socket.Dispose();
            }
            else
            {
                continue;
            }
            waiting.RemoveAt(i--);
        }
        return ready;
    }

    /// <summary>The credentials of an accepted peer of this user; another user's is closed before a byte is read from it or written to it.</summary>
    private static PeerCredentials? Admit(SafeDescriptor socket)
    {
        try
        {
            var peer = PeerCredentials.Of(socket.Fd);
            if (peer.IsSameUser)
            {
                return peer;
            }
        }
        catch (IOException)
        {
            // Gone already.
        }
        // Refused (docs/persistence.md, security).
        socket.Dispose();
        return null;
    }

    /// <summary>
    /// Serves one caller whose hello is in; true when it confirmed receiving everything, and the
    /// socket file has then been removed. Its connection is closed, after that removal.
    /// </summary>
    private static bool Session(Caller caller, SocketFile file, List<Held> held, IChannelSerializer serializer, TimeSpan collectorTimeout)
    {
        int fd = caller.Socket.Transfer(); // the channel's from here on
        DescriptorRegistry.Add(fd);
        // A write the collector does not read for this long fails with EAGAIN (an IOException below).
        LibC.SetSendTimeout(fd, collectorTimeout);
        var collector = new Channel(new SocketTransport(fd), null, null, serializer) { PeerDescription = $"the collector (pid {caller.Peer.Pid})" };
        try
        {
            if (caller.Hello.Kind == FrameKind.Value && caller.Hello.Decode(serializer) is long from
                && Deliver(collector, fd, from, held, collectorTimeout))
            {
                // The socket file goes before the connection closes (below): a collector that has seen
                // the end of the stream can start a new background process at the same address at once.
                file.RemoveIfAtItsPath();
                return true;
            }
            return false;
        }
        catch (Exception e) when (e is IOException or ChannelProtocolException or ChannelSerializationException or InvalidCastException)
        {
            return false;
        }
        finally
        {
            collector.Close();
        }
    }

    /// <summary>Sends the count and the results from <paramref name="from"/> on; true when the collector then confirmed.</summary>
    private static bool Deliver(Channel collector, int fd, long from, List<Held> held, TimeSpan collectorTimeout)
    {
        collector.Send((long)held.Count);
        for (int i = (int)Math.Clamp(from, 0, held.Count); i < held.Count; i++)
        {
            if (held[i].Error is { } error)
            {
                collector.SendRemoteError(error);
            }
            else
            {
                collector.Send(held[i].Value);
            }
        }
        // The confirmation is a control frame, read like the hello: a collector that sends part of it holds nobody.
        var confirmation = new BoundedFrame(fd);
        return confirmation.ReadWithin(Deadline.After(collectorTimeout)) && confirmation.Kind == FrameKind.Control;
    }
}
