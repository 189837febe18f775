using System.Buffers.Binary;
using System.Text.Json;
using PProcess.Serialization;

namespace PProcess.Mpi.Dealing;

/// <summary>
/// The message by which a rank hands over the results of one range: the range's start, the number
/// of results, the failure of the element after them (if one failed), then the results as one
/// payload of the map's serializer (so that whatever crosses from a child to its rank crosses
/// between ranks too). Little-endian: int start, int count, int failure length, the failure's
/// UTF-8 JSON, byte format, long payload length, payload.
/// </summary>
internal static class Report
{
    private const int Header = 4 + 4 + 4;

    internal static NativeBuffer Encode<TResult>(int start, TResult[] results, RankFailure? failure, IChannelSerializer serializer)
    {
        var failureBytes = failure is null ? [] : JsonSerializer.SerializeToUtf8Bytes(failure);
        var payload = serializer.Serialize(results);
        long total = Header + failureBytes.Length + 1 + 8 + payload.Length;
        if (total > int.MaxValue)
        {
            throw new MpiException(
                $"The results of elements {start} to {start + results.Length - 1} take {total} bytes, more than one MPI message carries " +
                "(2 GiB): set a smaller MpiPMapOptions.ChunkSize.");
        }
        var buffer = new NativeBuffer((int)total);
        var span = buffer.Span;
        BinaryPrimitives.WriteInt32LittleEndian(span, start);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], results.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], failureBytes.Length);
        failureBytes.CopyTo(span[Header..]);
        int at = Header + failureBytes.Length;
        span[at] = payload.Format;
        BinaryPrimitives.WriteInt64LittleEndian(span[(at + 1)..], payload.Length);
        var writer = new SpanWriter(buffer, at + 9);
        payload.WriteTo(writer);
        if (writer.Position != buffer.Length)
        {
            buffer.Dispose();
            throw new MpiException($"The serializer wrote {writer.Position - at - 9} bytes of a payload it said had {payload.Length}.");
        }
        return buffer;
    }

    internal static (int Start, TResult[] Results, RankFailure? Failure) Decode<TResult>(NativeBuffer buffer, IChannelSerializer serializer)
    {
        var span = buffer.Span;
        if (span.Length < Header + 9)
        {
            throw new MpiException($"A report of {span.Length} bytes is shorter than its header.");
        }
        int start = BinaryPrimitives.ReadInt32LittleEndian(span);
        int count = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        int failureLength = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        if (failureLength < 0 || failureLength > span.Length - Header - 9)
        {
            throw new MpiException($"A report's failure claims {failureLength} bytes of {span.Length}.");
        }
        var failure = failureLength == 0 ? null : JsonSerializer.Deserialize<RankFailure>(span.Slice(Header, failureLength));
        int at = Header + failureLength;
        byte format = span[at];
        long length = BinaryPrimitives.ReadInt64LittleEndian(span[(at + 1)..]);
        if (length != span.Length - at - 9)
        {
            throw new MpiException($"A report's payload claims {length} bytes, and {span.Length - at - 9} follow.");
        }
        var results = serializer.Deserialize(format, length, new SpanReader(buffer, at + 9)) as TResult[] ?? [];
        if (results.Length != count)
        {
            throw new MpiException($"A report says {count} results and carries {results.Length}.");
        }
        return (start, results, failure);
    }

    private sealed class SpanWriter(NativeBuffer buffer, int position) : IPayloadWriter
    {
        internal int Position => position;

        public void Write(ReadOnlySpan<byte> data)
        {
            data.CopyTo(buffer.Span[position..]);
            position += data.Length;
        }
    }

    private sealed class SpanReader(NativeBuffer buffer, int position) : IPayloadReader
    {
        public void ReadExactly(Span<byte> destination)
        {
            if (destination.Length > buffer.Length - position)
            {
                throw new MpiException("A report's payload ends early.");
            }
            buffer.Span.Slice(position, destination.Length).CopyTo(destination);
            position += destination.Length;
        }
    }
}
