using System.Diagnostics;

namespace PProcess.Benchmarks;

/// <summary>
/// The work of one element in the PMap rows (section 7): a loop of multiply-adds whose length is
/// calibrated at start to take a given time on this machine, so that PMap and PLINQ run the same
/// number of instructions per element (the Python peers calibrate the same loop in Python).
/// </summary>
internal static class Work
{
    /// <summary>Runs the loop <paramref name="iterations"/> times from <paramref name="seed"/>; the result depends on every step.</summary>
    internal static int Burn(int iterations, int seed)
    {
        ulong h = (ulong)seed;
        for (int i = 0; i < iterations; i++)
        {
            h = h * 6364136223846793005UL + 1442695040888963407UL;
        }
        return (int)(h >> 33);
    }

    /// <summary>
    /// The iterations that take <paramref name="target"/>: the loop's speed is the best of several
    /// timings of a million steps (the least disturbed on a shared machine).
    /// </summary>
    internal static int Calibrate(TimeSpan target)
    {
        const int probe = 1_000_000;
        Burn(probe, 1);
        double best = double.MaxValue;
        for (int i = 0; i < 7; i++)
        {
            var clock = Stopwatch.StartNew();
            Burn(probe, i);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return Math.Max(1, (int)(target.TotalSeconds / best * probe));
    }
}
