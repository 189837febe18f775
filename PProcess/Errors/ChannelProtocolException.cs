namespace PProcess;

/// <summary>
/// The bytes on a channel are not a valid message: a truncated frame, a bad header, or a payload
/// that the serializer cannot read. The channel cannot be used after this.
/// </summary>
public sealed class ChannelProtocolException : IOException
{
    /// <summary>Creates the exception.</summary>
    public ChannelProtocolException(string message, Exception? inner = null) : base(message, inner) { }
}
