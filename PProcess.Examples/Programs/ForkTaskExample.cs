using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// fork_task: xfork's thumbnails. Sequentially, then with <c>await Task.WhenAll(ForkTask.Run(...))</c>
/// (CPU-bound, one child per image) and Task.Run (IO-bound, which needs no fork).
/// </summary>
public static class ForkTaskExample
{
    /// <summary>"Create a thumbnail": CPU work proportional to the image's size.</summary>
    private static long Thumbnail(int image) => Thumbnail(image, 100_000_000);

    private static long Thumbnail(int image, int work)
    {
        long h = image;
        for (int k = 0; k < work; k++)
        {
            h = h * 31 + k;
        }
        return h;
    }

    /// <summary>"Call a remote web service": waiting, not computing.</summary>
    private static string Fetch(int image, TimeSpan delay)
    {
        Thread.Sleep(delay);
        return $"meta{image}";
    }

    public static void Run(Options options) => RunAsync(options).GetAwaiter().GetResult();

    private static async Task RunAsync(Options options)
    {
        var images = Enumerable.Range(0, options.LimitGiven ? options.Limit : 4).ToArray();
        var delay = options.DelayOr(TimeSpan.FromMilliseconds(100));
        // The first fork of a process compiles the child's path once (~0.4 s, docs/fork-safety.md rule 9): not timed.
        await ForkTask.Run(() => Thumbnail(0, 1));
        var clock = Stopwatch.StartNew();
        var sequential = images.Select(image => Thumbnail(image)).ToArray();
        double sequentialMs = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        var forked = await Task.WhenAll(images.Select(image => ForkTask.Run(() => Thumbnail(image))));
        double forkedMs = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine($"thumbnails equal: {sequential.SequenceEqual(forked)}");
        Console.WriteLine($"cpu-bound: sequential {sequentialMs:0.0} ms, ForkTask.Run {forkedMs:0.0} ms, ratio {sequentialMs / forkedMs:0.00}x");

        clock.Restart();
        var metadata = await Task.WhenAll(images.Select(image => Task.Run(() => Fetch(image, delay))));
        Console.WriteLine($"io-bound: {string.Join(" ", metadata)} in {clock.Elapsed.TotalMilliseconds:0.0} ms ({images.Length} x {delay.TotalMilliseconds:0} ms waits)");

        try
        {
            await ForkTask.Run(() => Thumbnail(-1) / (images.Length - images.Length));
        }
        catch (RemoteException e)
        {
            Console.WriteLine($"a failing fork raises {e.RemoteType} with the child's stack:");
            Console.WriteLine(e.RemoteStackTrace?.Split('\n')[0].Trim());
        }
    }
}
