using System.Diagnostics;
using PProcess.Examples.BeerSong;

namespace PProcess.Examples.Programs;

/// <summary>
/// bottles_heartbeat: pprocess's examples/concurrency-sig/bottles_heartbeat.py. The bottles
/// pipeline, but the parent drives the queue with Store(timeout) instead of blocking iteration,
/// and prints "heartbeat: no input for N ms" whenever nothing arrived for the heartbeat interval.
/// With --pause-until-heartbeat the writer stops halfway and says so over its channel; at its next
/// heartbeat the parent sees that and tells it to go on. So a heartbeat is sure to happen, after
/// the writer paused and before any line of the second half of the song is written.
/// </summary>
public static class BottlesHeartbeat
{
    public static void Run(Options options)
    {
        var settings = BottlesSettings.Parse(options, heartbeat: true);
        using var pipeline = BottlesPipeline.Start(settings);
        var greps = pipeline.Greps;
        var quiet = Stopwatch.StartNew();
        bool writerReleased = false;
        while (true)
        {
            if (greps.TryTake(out var match))
            {
                pipeline.Print(match);
                quiet.Restart();
                continue;
            }
            if (!greps.Unfinished())
            {
                break;
            }
            var left = settings.Heartbeat - quiet.Elapsed;
            if (left > TimeSpan.Zero)
            {
                // One round: returns when a message came, a child ended, or the time is up.
                greps.Store(left);
                continue;
            }
            Console.WriteLine($"heartbeat: no input for {settings.Heartbeat.TotalMilliseconds:0} ms");
            quiet.Restart();
            if (settings.PauseUntilHeartbeat && !writerReleased)
            {
                writerReleased = ReleaseWriter(pipeline.Writer);
            }
        }
        pipeline.Finish();
    }

    /// <summary>If the writer has paused (its message is waiting; this does not block), tells it to go on.</summary>
    private static bool ReleaseWriter(Channel writer)
    {
        if (!writer.Poll(TimeSpan.Zero))
        {
            return false;
        }
        var said = writer.Receive();
        if (said is not BeerSong.Writer.Paused)
        {
            throw new InvalidOperationException($"The writer said {said} before pausing.");
        }
        try
        {
            writer.Send("go on");
        }
        catch (IOException)
        {
            // The writer gave up waiting and has finished: nothing to tell.
        }
        return true;
    }
}
