namespace PProcess.Examples.BeerSong;

/// <summary>
/// The input of the bottles examples: the verses of "99 bottles of beer", spread line by line
/// over <see cref="FileCount"/> files (line k of the song goes to file k mod 9), and the patterns
/// of the three greps, each of which follows three of the files.
/// </summary>
public static class Song
{
    /// <summary>The number of files the song is spread over.</summary>
    public const int FileCount = 9;

    /// <summary>The line the writer appends to every file when it is done: a follower stops there.</summary>
    public const string EndMarker = "-- the end --";

    /// <summary>The greps' patterns; grep g follows files 3g+1 to 3g+3 (<see cref="FilesOf"/>).</summary>
    public static readonly string[] Patterns = ["bottles", "beer", "wall"];

    /// <summary>The name of file <paramref name="index"/> (0-based): file1.txt to file9.txt.</summary>
    public static string FileName(int index) => $"file{index + 1}.txt";

    /// <summary>The file (0-based) that line <paramref name="line"/> (0-based) of the song goes to.</summary>
    public static int FileOf(int line) => line % FileCount;

    /// <summary>The files (0-based) that grep <paramref name="grep"/> follows.</summary>
    public static int[] FilesOf(int grep)
    {
        int each = FileCount / Patterns.Length;
        return Enumerable.Range(grep * each, each).ToArray();
    }

    /// <summary>The song's lines, <paramref name="verses"/> verses of 4 lines, counting down to no more bottles.</summary>
    public static List<string> Lines(int verses)
    {
        var lines = new List<string>(verses * 4);
        for (int n = verses; n >= 1; n--)
        {
            lines.Add($"{Bottles(n)} of beer on the wall");
            lines.Add($"{Bottles(n)} of beer");
            lines.Add("take one down, pass it around");
            lines.Add($"{Bottles(n - 1)} of beer on the wall");
        }
        return lines;
    }

    private static string Bottles(int n) => n switch
    {
        0 => "no more bottles",
        1 => "1 bottle",
        _ => $"{n} bottles",
    };
}
