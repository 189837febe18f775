namespace PProcess;

/// <summary>Settings of a <see cref="PersistentExchange"/> or <see cref="PersistentQueue{TResult}"/>.</summary>
public sealed class PersistentExchangeOptions : ChannelOptions
{
    private int? limit;
    private TimeSpan confirmationTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The most background processes of the exchange computing at once; null (the default) is <see cref="Cores.Usable"/>. At least 1.</summary>
    public int? Limit
    {
        get => limit;
        set => limit = ValidLimit(value, "A persistent exchange's limit (background processes computing at once)");
    }

    /// <summary>
    /// A file that receives the standard output and error of the background processes (appended,
    /// created with mode 0600); null (the default): /dev/null.
    /// </summary>
    public string? LogPath { get; set; }

    /// <summary>How long a collector waits, after confirming, for the background process to close the connection. Positive; 10 s by default.</summary>
    public TimeSpan ConfirmationTimeout
    {
        get => confirmationTimeout;
        set => confirmationTimeout = value > TimeSpan.Zero && value != Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "The confirmation timeout must be a positive time.");
    }
}
