using System.Text;

namespace PProcess.Examples.BeerSong;

/// <summary>A line read from a followed file, with the file's name.</summary>
public sealed record TailLine(string File, string Text);

/// <summary>
/// <c>tail -f</c> in a child: reads a file's lines as they are appended and sends each over the
/// channel, until the end marker line. The file is read from its start (pprocess's follow starts
/// at the end, which loses the lines written before the follower opened the file). A line is
/// sent only once its newline is there, so a line caught half-written is never split.
/// </summary>
public static class Tail
{
    /// <summary>Follows <paramref name="path"/>; when no data has come, looks again after <paramref name="poll"/>.</summary>
    public static void Follow(Channel channel, string path, TimeSpan poll)
    {
        var name = Path.GetFileName(path);
        // Unbuffered: each read asks the file for what is there now. FileShare.ReadWrite: the writer appends meanwhile.
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        var chunk = new byte[4096];
        var line = new List<byte>();
        while (true)
        {
            int n = file.Read(chunk);
            if (n == 0)
            {
                // Nothing new: a plain sleep, as tail -f does (a child has no timers; docs/fork-safety.md rule 4).
                Thread.Sleep(poll);
                continue;
            }
            for (int i = 0; i < n; i++)
            {
                if (chunk[i] != (byte)'\n')
                {
                    line.Add(chunk[i]);
                    continue;
                }
                var text = Encoding.UTF8.GetString(line.ToArray());
                line.Clear();
                if (text == Song.EndMarker)
                {
                    return;
                }
                channel.Send(new TailLine(name, text));
            }
        }
    }
}
