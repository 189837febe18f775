using PProcess.Examples.BeerSong;

namespace PProcess.Examples.Programs;

/// <summary>
/// bottles: pprocess's examples/concurrency-sig/bottles.py, the Python concurrency SIG's
/// "99 bottles" showcase. Nested continuous queues: three grep children in a continuous
/// ResultQueue, each running a continuous ResultQueue of three follower children (tail -f on one
/// file each), pass up the lines that match their pattern; the parent prints them as they arrive.
/// A writer child appends the song to the files meanwhile. Everything ends at the files' end marker.
/// </summary>
public static class Bottles
{
    public static void Run(Options options)
    {
        var settings = BottlesSettings.Parse(options, heartbeat: false);
        using var pipeline = BottlesPipeline.Start(settings);
        foreach (var match in pipeline.Greps)
        {
            pipeline.Print(match);
        }
        pipeline.Finish();
    }
}
