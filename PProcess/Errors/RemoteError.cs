using System.Text.Json;

namespace PProcess.Errors;

/// <summary>
/// The wire form of an exception: what crosses from a child to its parent. Bounded both ways: a
/// sender keeps at most <see cref="MaxNodes"/> exceptions (inner and aggregated) and
/// <see cref="MaxFrame"/> bytes, and a receiver refuses more before it builds anything, so that a
/// small error frame cannot fan out into a large heap (docs/channels.md, "Limits").
/// </summary>
internal sealed record RemoteError(
    string Type,
    string Message,
    string? StackTrace,
    RemoteError? Inner,
    RemoteError[]? InnerExceptions)
{
    /// <summary>The most exceptions one error carries, itself, its inner and aggregated ones included.</summary>
    internal const int MaxNodes = 1024;

    /// <summary>The largest error frame: 16 MiB of JSON.</summary>
    internal const long MaxFrame = 16 << 20;

    /// <summary>What a message or stack trace is cut to when an error would be larger than <see cref="MaxFrame"/>.</summary>
    private const int CutText = 64 * 1024;

    internal static RemoteError From(Exception exception)
    {
        int budget = MaxNodes;
        return From(exception, depth: 0, ref budget);
    }

    private static RemoteError From(Exception exception, int depth, ref int budget)
    {
        budget--;
        if (exception is RemoteException remote)
        {
            // A remote exception passed on (by a child, or by a background process) is sent as it
            // arrived: its original type, stack, inner exception and aggregated exceptions.
            budget -= remote.Error.Count() - 1;
            return remote.Error;
        }
        RemoteError[]? many = null;
        if (exception is AggregateException aggregate && depth <= 32)
        {
            var kept = new List<RemoteError>();
            foreach (var inner in aggregate.InnerExceptions)
            {
                if (budget <= 1)
                {
                    break;
                }
                kept.Add(From(inner, depth + 1, ref budget));
            }
            many = [.. kept];
        }
        return new RemoteError(
            exception.GetType().FullName ?? exception.GetType().Name,
            exception.Message,
            exception.StackTrace,
            exception.InnerException is null || depth > 32 || budget <= 1 ? null : From(exception.InnerException, depth + 1, ref budget),
            many);
    }

    /// <summary>This error and every one inside it.</summary>
    private int Count()
    {
        int n = 1 + (Inner?.Count() ?? 0);
        foreach (var e in InnerExceptions ?? [])
        {
            n += e.Count();
        }
        return n;
    }

    /// <summary>The JSON of this error, cut (messages, stacks, then inner exceptions) to at most <see cref="MaxFrame"/> bytes.</summary>
    internal byte[] ToBoundedJson()
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(this);
        if (json.LongLength <= MaxFrame)
        {
            return json;
        }
        var cut = new RemoteError(Type, Cut(Message) + $" [error cut to fit a channel's {MaxFrame >> 20} MiB limit for errors: it was {json.LongLength} bytes]",
            StackTrace is null ? null : Cut(StackTrace), null, null);
        return JsonSerializer.SerializeToUtf8Bytes(cut);
    }

    private static string Cut(string text) => text.Length <= CutText ? text : text[..CutText] + "…";

    /// <summary>
    /// Reads an error from its JSON, refusing one of more than <see cref="MaxNodes"/> exceptions
    /// (counted without building anything) with <see cref="ChannelProtocolException"/>.
    /// </summary>
    internal static RemoteError? Parse(ReadOnlySpan<byte> json, JsonSerializerOptions options)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = options.MaxDepth == 0 ? 64 : options.MaxDepth });
        int objects = 0;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.StartObject && ++objects > MaxNodes)
            {
                throw new ChannelProtocolException($"An error holds more than {MaxNodes} exceptions.");
            }
        }
        return JsonSerializer.Deserialize<RemoteError>(json, options);
    }
}
