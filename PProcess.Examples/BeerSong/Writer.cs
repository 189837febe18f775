using System.Text;

namespace PProcess.Examples.BeerSong;

/// <summary>What the writer child writes, and how.</summary>
/// <param name="Directory">The directory of the song's files.</param>
/// <param name="Verses">The number of verses.</param>
/// <param name="Delay">The pause after each line.</param>
/// <param name="PauseUntilHeartbeat">Stop halfway until the parent says it printed a heartbeat.</param>
/// <param name="PauseLimit">How long to wait for that word before going on regardless.</param>
public sealed record WriterPlan(string Directory, int Verses, TimeSpan Delay, bool PauseUntilHeartbeat, TimeSpan PauseLimit);

/// <summary>
/// The writer child: appends the song line by line to the files (line k to file k mod 9), then
/// the end marker to every file, and sends the number of lines it wrote. Told to pause, it stops
/// halfway, sends <see cref="Paused"/>, and goes on when the parent answers (or after the pause limit). It is a child, not a
/// thread, because the parent must not start threads before it forks (docs/fork-safety.md rule 3).
/// </summary>
public static class Writer
{
    public static void Write(Channel channel, WriterPlan plan)
    {
        var lines = Song.Lines(plan.Verses);
        var files = new FileStream[Song.FileCount];
        try
        {
            for (int f = 0; f < files.Length; f++)
            {
                // Unbuffered: each line is one write(2), so a follower sees it at once.
                files[f] = new FileStream(Path.Combine(plan.Directory, Song.FileName(f)), FileMode.Append, FileAccess.Write,
                    FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            }
            for (int k = 0; k < lines.Count; k++)
            {
                if (plan.PauseUntilHeartbeat && k == lines.Count / 2)
                {
                    WaitForHeartbeat(channel, plan.PauseLimit, k);
                }
                files[Song.FileOf(k)].Write(Encoding.UTF8.GetBytes(lines[k] + "\n"));
                if (plan.Delay > TimeSpan.Zero)
                {
                    Thread.Sleep(plan.Delay);
                }
            }
        }
        finally
        {
            // Even if writing failed: without the end marker the followers would wait for ever.
            foreach (var file in files)
            {
                file?.Write(Encoding.UTF8.GetBytes(Song.EndMarker + "\n"));
                file?.Dispose();
            }
        }
        channel.Send(lines.Count);
    }

    /// <summary>The writer's word to the parent that it has stopped and waits for a heartbeat.</summary>
    public const string Paused = "paused";

    /// <summary>Tells the parent that it paused, and waits for its answer (sent once it has printed a heartbeat).</summary>
    private static void WaitForHeartbeat(Channel channel, TimeSpan limit, int written)
    {
        channel.Send(Paused);
        if (channel.Poll(limit))
        {
            // The parent's word (or its end of the channel closing: then there is nothing to wait for).
            channel.TryReceive(out _);
        }
        else
        {
            Console.Error.WriteLine($"writer: paused after {written} lines, but no heartbeat came within {limit.TotalSeconds:0} s; going on.");
        }
    }
}
