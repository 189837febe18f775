using Microsoft.Extensions.Logging;

namespace PProcess.Extensions.Logging;

/// <summary>
/// A log record made in a child, as it crosses to the parent: everything a provider reads, as text
/// (the child's objects do not cross; their words do). Written and read with a BinaryWriter; a
/// record that does not read back whole is dropped with a word on standard error.
/// </summary>
internal sealed record ChildLogRecord(
    string Category, LogLevel Level, int EventId, string? EventName, string Message,
    KeyValuePair<string, string?>[] Properties, ChildLogRecord.Scope[] Scopes, string? Job, ChildLogRecord.Failure? Exception)
{
    /// <summary>A scope open in the child when it logged: its text, and its key-value pairs if it had some.</summary>
    internal sealed record Scope(string? Text, KeyValuePair<string, string?>[] Pairs);

    /// <summary>The exception logged with the record: its type, message and whole text (stack and inner exceptions).</summary>
    internal sealed record Failure(string Type, string Message, string Text);

    internal byte[] Write()
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory))
        {
            writer.Write(Category);
            writer.Write((int)Level);
            writer.Write(EventId);
            WriteOptional(writer, EventName);
            writer.Write(Message);
            WritePairs(writer, Properties);
            writer.Write(Scopes.Length);
            foreach (var scope in Scopes)
            {
                WriteOptional(writer, scope.Text);
                WritePairs(writer, scope.Pairs);
            }
            WriteOptional(writer, Job);
            writer.Write(Exception is not null);
            if (Exception is not null)
            {
                writer.Write(Exception.Type);
                writer.Write(Exception.Message);
                writer.Write(Exception.Text);
            }
        }
        return memory.ToArray();
    }

    internal static ChildLogRecord Read(ReadOnlyMemory<byte> bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes.ToArray(), writable: false));
        var category = reader.ReadString();
        var level = (LogLevel)reader.ReadInt32();
        int eventId = reader.ReadInt32();
        var eventName = ReadOptional(reader);
        var message = reader.ReadString();
        var properties = ReadPairs(reader);
        var scopes = new Scope[Count(reader)];
        for (int i = 0; i < scopes.Length; i++)
        {
            scopes[i] = new Scope(ReadOptional(reader), ReadPairs(reader));
        }
        var job = ReadOptional(reader);
        var exception = reader.ReadBoolean() ? new Failure(reader.ReadString(), reader.ReadString(), reader.ReadString()) : null;
        return new ChildLogRecord(category, level, eventId, eventName, message, properties, scopes, job, exception);
    }

    private static void WriteOptional(BinaryWriter writer, string? text)
    {
        writer.Write(text is not null);
        if (text is not null)
        {
            writer.Write(text);
        }
    }

    private static string? ReadOptional(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadString() : null;

    private static void WritePairs(BinaryWriter writer, KeyValuePair<string, string?>[] pairs)
    {
        writer.Write(pairs.Length);
        foreach (var (key, value) in pairs)
        {
            writer.Write(key);
            WriteOptional(writer, value);
        }
    }

    private static KeyValuePair<string, string?>[] ReadPairs(BinaryReader reader)
    {
        var pairs = new KeyValuePair<string, string?>[Count(reader)];
        for (int i = 0; i < pairs.Length; i++)
        {
            pairs[i] = new(reader.ReadString(), ReadOptional(reader));
        }
        return pairs;
    }

    /// <summary>A count, bounded by the bytes left: a child's garbage cannot make the parent allocate.</summary>
    private static int Count(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count < 0 || count > reader.BaseStream.Length - reader.BaseStream.Position)
        {
            throw new InvalidDataException($"a count of {count} in a record of {reader.BaseStream.Length} bytes");
        }
        return count;
    }
}
