namespace PProcess;

/// <summary>A value cannot be serialised for a channel; the message names its type.</summary>
public sealed class ChannelSerializationException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ChannelSerializationException(string message, Type? type, Exception? inner = null)
        : base(message, inner) => ValueType = type;

    /// <summary>The type of the value that could not be serialised.</summary>
    public Type? ValueType { get; }
}
