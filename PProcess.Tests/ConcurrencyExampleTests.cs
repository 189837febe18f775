using System.Text.RegularExpressions;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// The concurrency examples (bottles, bottles_heartbeat, start_indexer), run as processes. The
/// expected output is computed here, independently of the examples' code, from what they are
/// documented to do.
/// </summary>
public class ConcurrencyExampleTests
{
    // ---- bottles: the song, how it is spread over the files, and what each grep must print ----

    private static readonly string[] Patterns = ["bottles", "beer", "wall"];
    private const string EndMarker = "-- the end --";
    private static readonly Regex MatchLine = new(@"^grep '(?<pattern>[^']*)' (?<file>\S+): (?<text>.*)$");

    private static string BottleWords(int n) => n switch { 0 => "no more bottles", 1 => "1 bottle", _ => $"{n} bottles" };

    private static List<string> Song(int verses)
    {
        var lines = new List<string>();
        for (int n = verses; n >= 1; n--)
        {
            lines.Add($"{BottleWords(n)} of beer on the wall");
            lines.Add($"{BottleWords(n)} of beer");
            lines.Add("take one down, pass it around");
            lines.Add($"{BottleWords(n - 1)} of beer on the wall");
        }
        return lines;
    }

    /// <summary>Line k of the song goes to file (k mod 9) + 1; grep g follows files 3g+1 to 3g+3.</summary>
    private static int FileOf(int line) => line % 9 + 1;

    private static int GrepOf(int file) => (file - 1) / 3;

    /// <summary>The printed match lines the song must produce, with the index of the song line each comes from.</summary>
    private static List<(string Printed, int Line)> ExpectedMatches(int verses)
    {
        var song = Song(verses);
        var expected = new List<(string, int)>();
        for (int k = 0; k < song.Count; k++)
        {
            int file = FileOf(k);
            var pattern = Patterns[GrepOf(file)];
            if (song[k].Contains(pattern, StringComparison.Ordinal))
            {
                expected.Add(($"grep '{pattern}' file{file}.txt: {song[k]}", k));
            }
        }
        return expected;
    }

    private static string[] OutputLines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Checks the match lines of a run: exactly the expected ones, each once, in file order within
    /// each file (one follower reads a file in order, and channels keep order), and the summary.
    /// </summary>
    private static void AssertMatches(string output, int verses)
    {
        var expected = ExpectedMatches(verses);
        var printed = OutputLines(output).Where(l => l.StartsWith("grep ", StringComparison.Ordinal)).ToList();
        Assert.Equal(expected.Select(e => e.Printed).Order(StringComparer.Ordinal), printed.Order(StringComparer.Ordinal));
        foreach (var group in expected.GroupBy(e => MatchLine.Match(e.Printed).Groups["file"].Value))
        {
            var inFile = printed.Where(p => MatchLine.Match(p).Groups["file"].Value == group.Key);
            Assert.Equal(group.Select(e => e.Printed), inFile);
        }
        int files = expected.Select(e => FileOf(e.Line)).Distinct().Count();
        Assert.Contains($"wrote {verses * 4} lines to 9 files", OutputLines(output));
        Assert.Equal($"matched {expected.Count} lines in {files} files", OutputLines(output)[^1]);
    }

    private static string FollowedDirectory(string output)
    {
        var first = OutputLines(output)[0];
        const string prefix = "following 9 files in ";
        Assert.StartsWith(prefix, first);
        return first[prefix.Length..];
    }

    [Theory]
    [InlineData("10")]
    [InlineData("1")]
    public void BottlesPrintsEveryMatchingLineOnceWithItsFileTagThenTheSummary(string limit)
    {
        // With --limit 1 the greps run one after another: the later ones read files written long before.
        var output = ExampleRunner.Passes("bottles", "--lines", "7", "--delay", "0.001", "--limit", limit);
        AssertMatches(output, 7);
        Assert.Equal(19, ExpectedMatches(7).Count);
        var directory = FollowedDirectory(output);
        Assert.False(Directory.Exists(directory), $"the temporary directory {directory} was not removed");
    }

    [Fact]
    public void BottlesWithADirectoryEmptiesOldFilesAndKeepsTheSongThere()
    {
        var root = Directory.CreateTempSubdirectory("bottles-test-").FullName;
        try
        {
            var directory = Path.Combine(root, "song");
            Directory.CreateDirectory(directory);
            // Left over from an earlier run: it must not be followed again.
            File.WriteAllText(Path.Combine(directory, "file1.txt"), "77 bottles of beer from before\n" + EndMarker + "\n");
            var output = ExampleRunner.Passes("bottles", "--lines", "4", "--delay", "0", "--dir", directory);
            AssertMatches(output, 4);
            // Its children share its command line, which names this unique directory: none may be left.
            Assert.Empty(ProcessesMentioning(directory));
            Assert.Equal(directory, FollowedDirectory(output));
            var song = Song(4);
            for (int file = 1; file <= 9; file++)
            {
                var lines = song.Where((_, k) => FileOf(k) == file).Append(EndMarker);
                Assert.Equal(lines, File.ReadAllLines(Path.Combine(directory, $"file{file}.txt")));
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static List<string> ProcessesMentioning(string text)
    {
        var found = new List<string>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out _))
            {
                continue;
            }
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ');
                if (commandLine.Contains(text, StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(entry)}: {commandLine}");
                }
            }
            catch (IOException)
            {
                // The process ended meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    [Fact]
    public void BottlesRejectsAnUnknownArgument()
    {
        var result = ExampleRunner.Run(TimeSpan.FromMinutes(1), "bottles", "--heartbeat", "100");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unknown argument", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public void BottlesHeartbeatPrintsAHeartbeatWhileTheWriterPausesAndStillMatchesEveryLine()
    {
        const int verses = 6;
        var result = ExampleRunner.Run(TimeSpan.FromMinutes(2),
            "bottles_heartbeat", "--lines", $"{verses}", "--delay", "0.001", "--heartbeat", "100", "--pause-until-heartbeat");
        result.AssertSucceeded();
        AssertMatchesIgnoringHeartbeats(result.Output, verses);
        Assert.DoesNotContain("no heartbeat came", result.Error);

        // The writer stops before line 12 (half of 24) until the parent has printed a heartbeat
        // after the pause: so some heartbeat line comes before every match of the second half.
        var lines = OutputLines(result.Output).ToList();
        var heartbeats = lines.Select((l, i) => (l, i)).Where(x => x.l == "heartbeat: no input for 100 ms").Select(x => x.i).ToList();
        Assert.NotEmpty(heartbeats);
        var secondHalf = ExpectedMatches(verses).Where(e => e.Line >= verses * 4 / 2).Select(e => lines.IndexOf(e.Printed)).ToList();
        Assert.NotEmpty(secondHalf);
        Assert.True(heartbeats[0] < secondHalf.Min(),
            $"no heartbeat came before the lines written after the pause:\n{result.Output}");
        Assert.All(lines, l => Assert.True(l.StartsWith("grep ", StringComparison.Ordinal) || l.StartsWith("heartbeat: ", StringComparison.Ordinal)
            || l.StartsWith("following ", StringComparison.Ordinal) || l.StartsWith("wrote ", StringComparison.Ordinal)
            || l.StartsWith("matched ", StringComparison.Ordinal), $"unexpected line '{l}'"));
    }

    [Fact]
    public void BottlesHeartbeatWithoutAPauseMatchesEveryLine()
    {
        // The Store(timeout) loop must lose nothing, whether or not heartbeats happen in between.
        var output = ExampleRunner.Passes("bottles_heartbeat", "--lines", "5", "--delay", "0.002", "--heartbeat", "20");
        AssertMatchesIgnoringHeartbeats(output, 5);
        Assert.False(Directory.Exists(FollowedDirectory(output)));
    }

    private static void AssertMatchesIgnoringHeartbeats(string output, int verses) =>
        AssertMatches(string.Join('\n', OutputLines(output).Where(l => !l.StartsWith("heartbeat: ", StringComparison.Ordinal))), verses);

    // ---- start_indexer ----

    private static readonly Dictionary<string, string> IndexedFiles = new()
    {
        ["alpha.txt"] = "Apple apricot APPLE banana. Ab ok 42 4242 x1y2",
        ["beta.txt"] = "band bandana Banana-split; apple's\nAPRICOTS and bands",
        ["delta.txt"] = "",
        ["epsilon.md"] = "The quick brown fox jumps over the lazy dog; the end.",
        ["gamma.txt"] = "Élan électrique, ÉCOLE école 123abc\tstraße",
        ["zeta.txt"] = "band\nband\nband 4242\n",
        ["eta.txt"] = "quick quicker quickest quiche",
    };

    private static readonly string[] Prefixes = ["ap", "BA", "é", "12", "4242", "qu", "the", "x1", "nothing"];

    private static string MakeIndexedDirectory()
    {
        var directory = Directory.CreateTempSubdirectory("indexer-test-").FullName;
        foreach (var (name, text) in IndexedFiles)
        {
            File.WriteAllText(Path.Combine(directory, name), text);
        }
        // Only the directory's own files are indexed, not a subdirectory's.
        Directory.CreateDirectory(Path.Combine(directory, "sub"));
        File.WriteAllText(Path.Combine(directory, "sub", "hidden.txt"), "apple bandwidth");
        return directory;
    }

    /// <summary>The index, built sequentially: token (letters and digits, lower-cased, length 3 or more) -> files.</summary>
    private static SortedDictionary<string, SortedSet<string>> SequentialIndex(string directory)
    {
        var index = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var path in Directory.GetFiles(directory))
        {
            foreach (Match word in Regex.Matches(File.ReadAllText(path), @"[\p{L}\p{Nd}]+"))
            {
                var token = word.Value.ToLowerInvariant();
                if (token.Length >= 3)
                {
                    if (!index.TryGetValue(token, out var files))
                    {
                        index[token] = files = new SortedSet<string>(StringComparer.Ordinal);
                    }
                    files.Add(Path.GetFileName(path));
                }
            }
        }
        return index;
    }

    private static List<string> ExpectedAnswer(SortedDictionary<string, SortedSet<string>> index, string prefix)
    {
        prefix = prefix.ToLowerInvariant();
        var lines = index.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal))
            .Select(e => $"{e.Key}: {string.Join(", ", e.Value)}").ToList();
        return lines.Count > 0 ? lines : [$"(no token starts with '{prefix}')"];
    }

    /// <summary>The answers in a transcript: each "> PREFIX" line and the lines after it; a bare "> " ends it.</summary>
    private static List<(string Query, List<string> Answer)> Answers(string output)
    {
        var answers = new List<(string, List<string>)>();
        foreach (var line in OutputLines(output).SkipWhile(l => !l.StartsWith("> ", StringComparison.Ordinal)))
        {
            if (line.StartsWith("> ", StringComparison.Ordinal))
            {
                if (line.Length == 2)
                {
                    break;
                }
                answers.Add((line[2..], []));
            }
            else
            {
                answers[^1].Item2.Add(line);
            }
        }
        return answers;
    }

    private static void AssertAnswers(SortedDictionary<string, SortedSet<string>> index, IReadOnlyList<string> queries, string output)
    {
        var answers = Answers(output);
        Assert.Equal(queries, answers.Select(a => a.Query));
        foreach (var (query, answer) in answers)
        {
            Assert.Equal(ExpectedAnswer(index, query), answer);
        }
    }

    private static void AssertSummary(string output, SortedDictionary<string, SortedSet<string>> index, int files) =>
        Assert.Matches($@"^indexed {index.Count} tokens from {files} files in \d+\.\d{{3}} s$", OutputLines(output)[0]);

    [Theory]
    [InlineData("2", "2")]
    [InlineData("3", "1")]
    [InlineData("1", "10")]
    public void StartIndexerAnswersQueriesLikeAnIndexBuiltSequentially(string window, string slice)
    {
        var directory = MakeIndexedDirectory();
        try
        {
            var index = SequentialIndex(directory);
            Assert.Contains("4242", index.Keys);
            Assert.Contains("straße", index.Keys);
            var args = new List<string> { "start_indexer", directory, "--limit", window, "--slice", slice };
            foreach (var prefix in Prefixes)
            {
                args.AddRange(["--query", prefix]);
            }
            var output = ExampleRunner.Passes([.. args]);
            AssertSummary(output, index, IndexedFiles.Count);
            AssertAnswers(index, Prefixes, output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void StartIndexerAnswersPrefixesFromStandardInputUntilAnEmptyLine()
    {
        var directory = MakeIndexedDirectory();
        try
        {
            var index = SequentialIndex(directory);
            // "qu" comes after the empty line: it must not be answered.
            var result = ExampleRunner.RunWithInput(TimeSpan.FromMinutes(2), "ap\nBA\n  \nqu\n", "start_indexer", directory, "--limit", "3");
            result.AssertSucceeded();
            AssertSummary(result.Output, index, IndexedFiles.Count);
            AssertAnswers(index, ["ap", "BA"], result.Output);
            Assert.EndsWith("> \n", result.Output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void StartIndexerEndsAtTheEndOfStandardInput()
    {
        var directory = MakeIndexedDirectory();
        try
        {
            var index = SequentialIndex(directory);
            var result = ExampleRunner.RunWithInput(TimeSpan.FromMinutes(2), "the\nx1", "start_indexer", directory);
            result.AssertSucceeded();
            AssertAnswers(index, ["the", "x1"], result.Output);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void StartIndexerWithoutADirectoryIndexesTheRepositoryDocs()
    {
        var docs = FindRepositoryDocs();
        var index = SequentialIndex(docs);
        var output = ExampleRunner.Passes("start_indexer", "--query", "fork");
        AssertSummary(output, index, Directory.GetFiles(docs).Length);
        AssertAnswers(index, ["fork"], output);
        Assert.Contains("fork-safety.md", output);
    }

    private static string FindRepositoryDocs()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PProcess.sln")))
            {
                return Path.Combine(dir.FullName, "docs");
            }
        }
        throw new InvalidOperationException("The tests do not run inside the repository.");
    }

    [Fact]
    public void StartIndexerGivesAClearErrorForAnUnknownDirectory()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-directory-" + Guid.NewGuid().ToString("N"));
        var result = ExampleRunner.Run(TimeSpan.FromMinutes(1), "start_indexer", missing, "--query", "ap");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"no such directory: {missing}", result.Error);
        Assert.DoesNotContain("indexed", result.Output);
    }
}
