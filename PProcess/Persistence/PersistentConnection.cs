using PProcess.Runtime;
using PProcess.Serialization;
using PProcess.Transports;

namespace PProcess.Persistence;

/// <summary>
/// A collector's connection to one background process (the protocol is described on
/// <see cref="Daemon"/>): it announces how many results it holds, learns how many there are,
/// receives the rest, and confirms after the last one.
/// </summary>
internal sealed class PersistentConnection : IDisposable
{
    private PersistentConnection(string address, Channel channel, long from, TimeSpan confirmationTimeout)
    {
        Address = address;
        Channel = channel;
        Received = from;
        this.from = from;
        ConfirmationTimeout = confirmationTimeout;
    }

    /// <summary>Results already held when this connection was opened.</summary>
    private readonly long from;

    internal string Address { get; }

    /// <summary>How long a collector waits, after confirming, for the background process to close.</summary>
    private TimeSpan ConfirmationTimeout { get; }

    /// <summary>The channel results arrive on.</summary>
    internal Channel Channel { get; }

    /// <summary>The total number of results, once the background process has said it; -1 before.</summary>
    internal long Total { get; private set; } = -1;

    /// <summary>Results received, over this connection and the earlier ones to the same address.</summary>
    internal long Received { get; private set; }

    /// <summary>True once every result has been received and the confirmation sent.</summary>
    internal bool Confirmed { get; private set; }

    /// <summary>
    /// Connects (waiting up to <paramref name="connectTimeout"/>, 10 s by default, for room in a full
    /// listen backlog) and says that <paramref name="from"/> results are already held.
    /// </summary>
    internal static PersistentConnection Open(string address, long from, IChannelSerializer serializer, TimeSpan confirmationTimeout,
        TimeSpan? connectTimeout = null)
    {
        var path = UnixSocketAddress.Validate(address);
        int fd = UnixSocketAddress.Connect(path, connectTimeout ?? new PersistentExchangeOptions().ConnectTimeout);
        DescriptorRegistry.Add(fd);
        var channel = new Channel(new SocketTransport(fd), null, $"the background process at '{path}'", serializer)
        {
            PeerDescription = $"the background process at '{path}'",
        };
        var connection = new PersistentConnection(path, channel, from, confirmationTimeout);
        try
        {
            channel.Send(from);
        }
        catch (IOException e)
        {
            connection.Dispose();
            throw connection.Lost(e);
        }
        return connection;
    }

    /// <summary>
    /// When the channel is readable before the total is known: reads it. Returns true when a
    /// result is next, false when there is nothing more (and the confirmation was sent).
    /// </summary>
    internal bool ReadHeader()
    {
        if (Total >= 0)
        {
            return !Confirmed;
        }
        object? total;
        try
        {
            if (!Channel.TryReceive(out total))
            {
                throw Lost(null);
            }
        }
        catch (Exception e) when (e is IOException or ChannelProtocolException)
        {
            throw Lost(e);
        }
        if (total is not long n || n < Received)
        {
            throw new PersistentProcessException(
                $"The background process at '{Address}' answered with {total ?? "null"} instead of a result count of at least {Received}.", Address);
        }
        Total = n;
        ConfirmIfComplete();
        return !Confirmed;
    }

    /// <summary>
    /// After the exchange's StoreData, whatever it did (returned, threw, or read nothing): counts
    /// the results received from the channel itself, the count header aside, and confirms when
    /// they are all in. A count kept by hand was one short after a StoreData that threw (an
    /// InvalidCastException from Receive&lt;T&gt;), and collector and daemon then both waited.
    /// </summary>
    internal void CountReceived()
    {
        Received = from + Channel.MessagesReceived - 1;
        ConfirmIfComplete();
    }

    private void ConfirmIfComplete()
    {
        if (Total >= 0 && Received >= Total && !Confirmed)
        {
            try
            {
                Channel.SendQuit();
                // The daemon removes its socket file, then closes: once this end of stream is
                // seen, the address is free again. Bounded, in case the peer misbehaves.
                if (Channel.Poll(ConfirmationTimeout))
                {
                    Channel.TryReceive(out _);
                }
            }
            catch (Exception e) when (e is IOException or ChannelProtocolException)
            {
                throw Lost(e);
            }
            Confirmed = true;
            Channel.Close();
        }
    }

    /// <summary>The error for a connection that ended before the confirmation.</summary>
    internal PersistentProcessException Lost(Exception? cause) => new(
        $"The background process at '{Address}' closed the connection after {Received} of " +
        $"{(Total >= 0 ? Total.ToString(System.Globalization.CultureInfo.InvariantCulture) : "its")} results, before they were " +
        "all received and confirmed: it crashed or was killed" + (cause is null ? "." : $" ({cause.Message})."), Address, cause);

    /// <summary>Closes the connection; without the confirmation, the background process keeps its results.</summary>
    public void Dispose() => Channel.Close();
}
