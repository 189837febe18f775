namespace PProcess;

/// <summary>Settings of a <see cref="PersistentExchange"/> or <see cref="PersistentQueue{TResult}"/>.</summary>
public sealed class PersistentExchangeOptions : ChannelOptions
{
    private int? limit;
    private TimeSpan confirmationTimeout = TimeSpan.FromSeconds(10);
    private TimeSpan collectorTimeout = TimeSpan.FromSeconds(60);
    private TimeSpan connectTimeout = TimeSpan.FromSeconds(10);

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

    /// <summary>
    /// Descriptors of the starter that a background process keeps open (a file or socket its job
    /// writes to): it closes every other one above 2. Each must be above 2 (standard input, output and
    /// error go to /dev/null and the log). Empty by default. The starter's console descriptors (the
    /// duplicates of 1 and 2 that <see cref="Console.Out"/> and <see cref="Console.Error"/> write
    /// through once used) need not be listed: they are pointed at the log.
    /// </summary>
    public IReadOnlyList<int> KeepDescriptors
    {
        get => keepDescriptors;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            foreach (var fd in value)
            {
                if (fd <= 2)
                {
                    throw new ArgumentOutOfRangeException(nameof(value), fd,
                        "A background process keeps descriptors above 2 only: its standard streams are /dev/null and the log.");
                }
            }
            keepDescriptors = [.. value];
        }
    }

    private int[] keepDescriptors = [];

    /// <summary>How long a collector waits, after confirming, for the background process to close the connection. Positive; 10 s by default.</summary>
    public TimeSpan ConfirmationTimeout
    {
        get => confirmationTimeout;
        set => confirmationTimeout = ValidPositive(value, "The confirmation timeout");
    }

    /// <summary>
    /// How long a background process waits for a connected collector that leaves a result unread
    /// or does not confirm, before it drops that collector (keeping every result) and serves the
    /// next: a collector that stays connected and stops reading must not hold it for ever. Positive;
    /// 60 s by default.
    /// </summary>
    public TimeSpan CollectorTimeout
    {
        get => collectorTimeout;
        set => collectorTimeout = ValidPositive(value, "The collector timeout");
    }

    /// <summary>
    /// How long connecting to a background process may wait for room in its listen backlog: while
    /// the process computes or serves another collector it accepts nobody, and the kernel queues
    /// about 16 connections for it. After that, connecting fails with
    /// <see cref="PersistentProcessException"/>. Positive; 10 s by default.
    /// </summary>
    public TimeSpan ConnectTimeout
    {
        get => connectTimeout;
        set => connectTimeout = ValidPositive(value, "The connect timeout");
    }
}
