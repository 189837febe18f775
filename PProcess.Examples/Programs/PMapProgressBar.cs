using System.Diagnostics;
using Spectre.Console;

namespace PProcess.Examples.Programs;

/// <summary>
/// pmap_progress: a long PMap (by default 4000 elements of about 2 ms of CPU each) with a progress
/// bar drawn by Spectre.Console, fed by <see cref="PMapOptions.Progress"/>: the map reports each
/// time a chunk's results arrive, on the thread that enumerates, with the total when the source
/// knows it (here an array). Usage: pmap_progress [--count N] [--ms M] [--limit N]
/// </summary>
public static class PMapProgressBar
{
    public static void Run(Options options)
    {
        var extra = new ExtraArguments(options.Rest, "usage: pmap_progress [--count N] [--ms M] [--limit N]");
        int count = extra.Int("--count", 4000, 1);
        int milliseconds = extra.Int("--ms", 2, 0);
        extra.ThrowIfAnyLeft();
        var elements = Enumerable.Range(0, count).ToArray();
        var pmapOptions = new PMapOptions { Limit = options.LimitGiven ? options.Limit : null };
        long checksum = 0;
        var clock = Stopwatch.StartNew();
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask($"PMap over {count} elements", maxValue: count);
                pmapOptions.Progress = new TaskProgress(task);
                foreach (long result in elements.PMap(x => Spin(x, TimeSpan.FromMilliseconds(milliseconds)), pmapOptions))
                {
                    checksum += result;
                }
            });
        AnsiConsole.MarkupLine($"{count} elements in {clock.Elapsed.TotalSeconds:F2} s, checksum {checksum}");
    }

    /// <summary>Moves the bar to the elements done; Spectre's renderer thread draws it.</summary>
    private sealed class TaskProgress(ProgressTask task) : IProgress<MapProgress>
    {
        public void Report(MapProgress value) => task.Value = value.Done;
    }

    /// <summary>Computes for about <paramref name="time"/>; the result depends on x.</summary>
    private static long Spin(int x, TimeSpan time)
    {
        long until = Stopwatch.GetTimestamp() + (long)(time.TotalSeconds * Stopwatch.Frequency);
        long v = x;
        while (Stopwatch.GetTimestamp() < until)
        {
            for (int i = 0; i < 1000; i++)
            {
                v = (v * 6364136223846793005L + 1442695040888963407L) & long.MaxValue;
            }
        }
        return x;
    }
}
