using System.Text.RegularExpressions;

namespace PProcess.Examples.BeerSong;

/// <summary>A line that matched a grep's pattern: the pattern, the file it came from, the line.</summary>
public sealed record GrepMatch(string Pattern, string File, string Text);

/// <summary>
/// A grep child: runs a continuous queue of its own, one follower child per file (the nested
/// level of pprocess's multigrep), and passes up each line that matches its pattern. It ends
/// when its followers have all reached the end marker and ended.
/// </summary>
public static class Grep
{
    /// <summary>
    /// The child's body. <paramref name="pattern"/> was compiled in the parent: the fork gives the
    /// child the object itself, with nothing serialised.
    /// </summary>
    public static void Run(Channel channel, Regex pattern, string[] paths, TimeSpan poll)
    {
        using var followers = new ResultQueue<TailLine>(new ExchangeOptions { Limit = paths.Length, Continuous = true });
        foreach (var path in paths)
        {
            followers.Start(Tail.Follow, path, poll);
        }
        foreach (var line in followers)
        {
            if (pattern.IsMatch(line.Text))
            {
                channel.Send(new GrepMatch(pattern.ToString(), line.File, line.Text));
            }
        }
    }
}
