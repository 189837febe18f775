namespace PProcess.Serialization;

/// <summary>
/// Turns the values sent over a channel into bytes and back. Both ends of a channel use the same
/// serializer object: the child is a fork of the parent, so it has the same types and the same
/// serializer. Implementations must be thread-safe if channels are used from several threads.
/// </summary>
public interface IChannelSerializer
{
    /// <summary>Encodes a value. Throw to refuse a value; the channel reports it with the value's type.</summary>
    ChannelPayload Serialize(object? value);

    /// <summary>
    /// Decodes a value from exactly <paramref name="length"/> bytes read from <paramref name="reader"/>.
    /// <paramref name="format"/> is the <see cref="ChannelPayload.Format"/> the sender produced.
    /// </summary>
    object? Deserialize(byte format, long length, IPayloadReader reader);

    /// <summary>
    /// Decodes a value as <see cref="Deserialize(byte, long, IPayloadReader)"/> does, for a receive
    /// that expects a <paramref name="expected"/> (<c>Receive&lt;T&gt;</c>, a PMap's result type;
    /// <see cref="object"/> for an untyped receive). A serializer that names types on the wire should
    /// build only values of that type and the shapes it holds, and refuse others by throwing before
    /// it constructs them (docs/channels.md, "Which types are built"). By default, the untyped decode.
    /// </summary>
    object? Deserialize(byte format, long length, IPayloadReader reader, Type expected) => Deserialize(format, length, reader);
}

/// <summary>An encoded value, ready to be written into a frame.</summary>
public abstract class ChannelPayload
{
    /// <summary>A serializer-defined code telling the receiver how to decode the bytes.</summary>
    public abstract byte Format { get; }

    /// <summary>The number of bytes <see cref="WriteTo"/> writes.</summary>
    public abstract long Length { get; }

    /// <summary>Writes exactly <see cref="Length"/> bytes.</summary>
    public abstract void WriteTo(IPayloadWriter writer);
}

/// <summary>Where a payload's bytes go: the channel's framed writer.</summary>
public interface IPayloadWriter
{
    /// <summary>Writes the bytes; large spans go to the transport without a copy.</summary>
    void Write(ReadOnlySpan<byte> data);
}

/// <summary>Where a payload's bytes come from: the channel's framed reader.</summary>
public interface IPayloadReader
{
    /// <summary>Fills <paramref name="buffer"/>, or throws if the frame ends first.</summary>
    void ReadExactly(Span<byte> buffer);
}
