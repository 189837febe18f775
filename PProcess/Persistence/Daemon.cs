using PProcess.Native;
using PProcess.Runtime;
using PProcess.Serialization;
using PProcess.Transports;
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
/// Only synchronous calls: the process is a forked child, with no thread pool.
/// </remarks>
internal static class Daemon
{
    /// <summary>How long a connected collector may take to send its first message.</summary>
    private static readonly TimeSpan HelloTimeout = TimeSpan.FromSeconds(30);


    /// <summary>A held result: a value, or the error that took its place.</summary>
    private readonly record struct Held(object? Value, RemoteError? Error);

    internal static int Run(int listenFd, Channel status, string path, Action<Channel> body, string description, ChannelOptions options)
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
        Serve(listenFd, path, held, options.Serializer, collectorTimeout);
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

    private static void Serve(int listenFd, string path, List<Held> held, IChannelSerializer serializer, TimeSpan collectorTimeout)
    {
        while (true)
        {
            int fd = LibC.Accept(listenFd);
            if (fd < 0)
            {
                if (LibC.LastError is Errno.ECONNABORTED or Errno.EMFILE or Errno.ENFILE or Errno.ENOBUFS or Errno.ENOMEM)
                {
                    continue;
                }
                // The listening socket is unusable: nobody can collect any more.
                LibC.Unlink(path);
                return;
            }
            PeerCredentials peer;
            try
            {
                peer = PeerCredentials.Of(fd);
            }
            catch (IOException)
            {
                LibC.Close(fd);
                continue;
            }
            if (!peer.IsSameUser)
            {
                // Refused before a byte is read from it or written to it (docs/persistence.md, security).
                LibC.Close(fd);
                continue;
            }
            DescriptorRegistry.Add(fd);
            // A write the collector does not read for this long fails with EAGAIN (an IOException below).
            LibC.SetSendTimeout(fd, collectorTimeout);
            var collector = new Channel(new SocketTransport(fd), null, null, serializer) { PeerDescription = $"the collector (pid {peer.Pid})" };
            bool confirmed;
            try
            {
                confirmed = Deliver(collector, held, collectorTimeout);
            }
            catch (Exception e) when (e is IOException or ChannelProtocolException or ChannelSerializationException or InvalidCastException)
            {
                confirmed = false;
            }
            if (confirmed)
            {
                // The socket file goes before the connection closes: a collector that has seen the
                // end of the stream can start a new background process at the same address at once.
                LibC.Unlink(path);
                collector.Close();
                return;
            }
            collector.Close();
        }
    }

    /// <summary>One collector's session; true when it confirmed receiving everything.</summary>
    private static bool Deliver(Channel collector, List<Held> held, TimeSpan collectorTimeout)
    {
        if (!collector.Poll(HelloTimeout) || !collector.TryReceive(out var hello) || hello is not long from)
        {
            return false;
        }
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
        // The confirmation is a control frame: TryReceive returns false with QuitReceived.
        return collector.Poll(collectorTimeout) && !collector.TryReceive(out _) && collector.QuitReceived;
    }
}
