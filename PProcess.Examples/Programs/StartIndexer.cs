using System.Diagnostics;
using PProcess.Examples.Indexer;

namespace PProcess.Examples.Programs;

/// <summary>
/// start_indexer: pprocess's tests/start_indexer.py. A window of --limit parser children (a
/// continuous ResultQueue) reads the files of a directory, --slice files each, and streams one
/// batch of tokens per file back; the parent builds the index token -> files, then answers prefix
/// searches: from --query options, or at a "> " prompt on standard input until an empty line or
/// the end of the input.
/// </summary>
public static class StartIndexer
{
    private const string Usage = "usage: start_indexer [DIRECTORY] [--limit WINDOW] [--slice FILES] [--delay SECONDS] [--query PREFIX]...";

    /// <summary>A parser child: tokenises its files one by one and sends each file's tokens.</summary>
    private static void Parse(Channel channel, string[] paths, TimeSpan delay)
    {
        foreach (var path in paths)
        {
            var tokens = Tokens.Of(File.ReadAllText(path)).ToArray();
            if (delay > TimeSpan.Zero)
            {
                // pprocess's delay: simulated heavy processing.
                Thread.Sleep(delay);
            }
            channel.Send(new IndexBatch(Path.GetFileName(path), tokens));
        }
    }

    public static void Run(Options options)
    {
        var args = new ExtraArguments(options.Rest, Usage);
        int slice = args.Int("--slice", 1, minimum: 1);
        var queries = args.All("--query");
        var directory = args.Positional() ?? FindDocs();
        args.ThrowIfAnyLeft();
        if (!Directory.Exists(directory))
        {
            throw new ArgumentException($"start_indexer: no such directory: {directory}. {Usage}");
        }
        var delay = options.DelayOr(TimeSpan.Zero);
        var files = Directory.GetFiles(directory).Order(StringComparer.Ordinal).ToArray();

        var clock = Stopwatch.StartNew();
        var index = new TokenIndex();
        int parsed = 0;
        using (var parsers = new ResultQueue<IndexBatch>(new ExchangeOptions { Limit = options.Limit, Continuous = true }))
        {
            foreach (var chunk in files.Chunk(slice))
            {
                parsers.Start(Parse, chunk, delay);
            }
            foreach (var batch in parsers)
            {
                index.Add(batch);
                parsed++;
            }
        }
        Console.WriteLine(FormattableString.Invariant($"indexed {index.TokenCount} tokens from {parsed} files in {clock.Elapsed.TotalSeconds:F3} s"));

        if (queries.Count > 0)
        {
            foreach (var query in queries)
            {
                Console.WriteLine($"> {query}");
                Answer(index, query);
            }
            return;
        }
        while (true)
        {
            Console.Write("> ");
            var line = Console.ReadLine();
            if (string.IsNullOrWhiteSpace(line))
            {
                Console.WriteLine();
                return;
            }
            if (Console.IsInputRedirected)
            {
                // Echo piped input, so that the output reads as a transcript.
                Console.WriteLine(line);
            }
            Answer(index, line.Trim());
        }
    }

    private static void Answer(TokenIndex index, string prefix)
    {
        bool any = false;
        foreach (var (token, files) in index.Find(prefix))
        {
            Console.WriteLine($"{token}: {string.Join(", ", files)}");
            any = true;
        }
        if (!any)
        {
            Console.WriteLine($"(no token starts with '{prefix.ToLowerInvariant()}')");
        }
    }

    /// <summary>The repository's docs/ folder (next to PProcess.sln), looked for above the working directory and the program's.</summary>
    private static string FindDocs()
    {
        string[] starts = [Environment.CurrentDirectory, AppContext.BaseDirectory];
        foreach (var start in starts)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var docs = Path.Combine(dir.FullName, "docs");
                if (File.Exists(Path.Combine(dir.FullName, "PProcess.sln")) && Directory.Exists(docs))
                {
                    return docs;
                }
            }
        }
        throw new ArgumentException(
            $"start_indexer: no directory was given, and no docs/ folder of the PProcess repository (next to PProcess.sln) " +
            $"was found above {starts[0]} or {starts[1]}. Give the directory to index. {Usage}");
    }
}
