namespace PProcess.Exchanges;

/// <summary>A job waiting for a free slot in an exchange: what the child runs, and its name.</summary>
internal sealed record PendingJob(Action<Channel> Body, string Name);
