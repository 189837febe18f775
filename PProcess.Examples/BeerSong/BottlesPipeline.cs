using System.Text.RegularExpressions;

namespace PProcess.Examples.BeerSong;

/// <summary>The command line of the bottles examples, beyond --delay and --limit.</summary>
public sealed record BottlesSettings(int Verses, string? Directory, TimeSpan Delay, int Limit, TimeSpan Heartbeat, bool PauseUntilHeartbeat)
{
    /// <summary>The pause between written lines when --delay is not given (not the other examples' 1 s).</summary>
    public static readonly TimeSpan DefaultDelay = TimeSpan.FromSeconds(0.01);

    public static BottlesSettings Parse(Options options, bool heartbeat)
    {
        var usage = heartbeat
            ? "usage: bottles_heartbeat [--lines VERSES] [--dir PATH] [--delay SECONDS] [--heartbeat MS] [--pause-until-heartbeat]"
            : "usage: bottles [--lines VERSES] [--dir PATH] [--delay SECONDS]";
        var args = new ExtraArguments(options.Rest, usage);
        int verses = args.Int("--lines", 99, minimum: 1);
        var directory = args.String("--dir");
        int interval = heartbeat ? args.Int("--heartbeat", 5000, minimum: 1) : 0;
        bool pause = heartbeat && args.Flag("--pause-until-heartbeat");
        args.ThrowIfAnyLeft();
        var delay = options.DelayOr(DefaultDelay);
        if (delay < TimeSpan.Zero)
        {
            throw new ArgumentException($"--delay cannot be negative. {usage}");
        }
        return new BottlesSettings(verses, directory, delay, options.Limit, TimeSpan.FromMilliseconds(interval), pause);
    }
}

/// <summary>
/// What both bottles examples do around their printing loop: prepare the files, fork the writer,
/// start the three greps in a continuous queue, and at the end collect the writer and print the
/// summary. The printing loop is the examples' own.
/// </summary>
public sealed class BottlesPipeline : IDisposable
{
    /// <summary>How often a follower looks for new lines when it found none.</summary>
    public static readonly TimeSpan FollowPoll = TimeSpan.FromMilliseconds(10);

    /// <summary>How long a writer told to pause waits for the parent's heartbeat before going on.</summary>
    public static readonly TimeSpan PauseLimit = TimeSpan.FromSeconds(60);

    private readonly HashSet<string> matchedFiles = [];
    private readonly bool temporary;
    private Channel? writer;
    private int matched;

    private BottlesPipeline(string directory, bool temporary, int limit)
    {
        Directory = directory;
        this.temporary = temporary;
        Greps = new ResultQueue<GrepMatch>(new ExchangeOptions { Limit = Math.Min(limit, Song.Patterns.Length), Continuous = true });
    }

    /// <summary>The directory of the song's files.</summary>
    public string Directory { get; }

    /// <summary>The greps' queue: iterate it, or drive it with Store(timeout) and TryTake.</summary>
    public ResultQueue<GrepMatch> Greps { get; }

    /// <summary>The channel to the writer child.</summary>
    public Channel Writer => writer ?? throw new InvalidOperationException("The writer has not been started.");

    /// <summary>Creates the files (empty), forks the writer, then starts the greps.</summary>
    public static BottlesPipeline Start(BottlesSettings settings)
    {
        bool temporary = settings.Directory is null;
        var directory = settings.Directory is { } given
            ? System.IO.Directory.CreateDirectory(given).FullName
            : System.IO.Directory.CreateTempSubdirectory("bottles-").FullName;
        var pipeline = new BottlesPipeline(directory, temporary, settings.Limit);
        try
        {
            pipeline.Begin(settings);
            return pipeline;
        }
        catch
        {
            pipeline.Dispose();
            throw;
        }
    }

    private void Begin(BottlesSettings settings)
    {
        var paths = Enumerable.Range(0, Song.FileCount).Select(f => Path.Combine(Directory, Song.FileName(f))).ToArray();
        foreach (var path in paths)
        {
            // Created before any child starts, so that every follower finds its file; emptied if --dir had old ones.
            File.WriteAllText(path, "");
        }
        Console.WriteLine($"following {paths.Length} files in {Directory}");
        writer = Fork.Start(BeerSong.Writer.Write,
            new WriterPlan(Directory, settings.Verses, settings.Delay, settings.PauseUntilHeartbeat, PauseLimit));
        for (int g = 0; g < Song.Patterns.Length; g++)
        {
            var pattern = new Regex(Song.Patterns[g], RegexOptions.CultureInvariant);
            Greps.Start(Grep.Run, pattern, Song.FilesOf(g).Select(f => paths[f]).ToArray(), FollowPoll);
        }
    }

    /// <summary>Prints a match as it arrived, and counts it.</summary>
    public void Print(GrepMatch match)
    {
        Console.WriteLine($"grep '{match.Pattern}' {match.File}: {match.Text}");
        matched++;
        matchedFiles.Add(match.File);
    }

    /// <summary>After the greps have ended: collects the writer's count and prints the summary.</summary>
    public void Finish()
    {
        // Its last message is the count; a pause it announced that was never answered comes before it.
        object? said;
        do
        {
            said = Writer.Receive();
        }
        while (said is not int);
        int written = (int)said;
        Writer.Wait();
        Console.WriteLine($"wrote {written} lines to {Song.FileCount} files");
        Console.WriteLine($"matched {matched} lines in {matchedFiles.Count} files");
    }

    /// <summary>Ends whatever still runs and removes the files' directory if it was a temporary one.</summary>
    public void Dispose()
    {
        Greps.Dispose();
        writer?.Dispose();
        if (temporary)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
