using System.Diagnostics;
using System.Globalization;

namespace PProcess.Examples.Programs;

/// <summary>
/// pmap_chunks: PMap's default engine side by side with PLINQ in one run, on the two
/// workloads: 10^6 trivial elements (from an array, handed out as index ranges, and from a lazy
/// Enumerable.Range, whose elements cross through the serializer), and 10^4 elements of about
/// 100 µs of CPU each; then a fork per element on a few of the trivial ones, for its cost per
/// element. Each figure is the median of --rounds runs (3 by default); PMap's rounds all run before
/// PLINQ's first, since PLINQ starts the thread pool. Usage: pmap_chunks [--rounds N] [--limit N]
/// </summary>
public static class PMapChunks
{
    public static void Run(Options options)
    {
        int rounds = options.Rest.Count >= 2 && options.Rest[0] == "--rounds" ? int.Parse(options.Rest[1], CultureInfo.InvariantCulture) : 3;
        int cores = options.LimitGiven ? options.Limit : Cores.Usable;
        const int Trivial = 1_000_000;
        const int Heavy = 10_000;
        var array = Enumerable.Range(0, Trivial).ToArray();
        var heavyArray = Enumerable.Range(0, Heavy).ToArray();
        int spins = Calibrate(TimeSpan.FromMicroseconds(100));
        long expectedTrivial = array.Sum(x => (long)x + 1);
        long expectedHeavy = heavyArray.Sum(x => Work(x, spins));
        var pmapOptions = new PMapOptions { Limit = cores };
        Console.WriteLine($"limit {cores}, {rounds} rounds, {spins} spins per 100 µs element, load {LoadAverage()}");

        double arrayTrivial = Median(rounds, () => Check(array.PMap(x => (long)x + 1, pmapOptions).Sum(), expectedTrivial));
        double rangeTrivial = Median(rounds, () => Check(Enumerable.Range(0, Trivial).PMap(x => (long)x + 1, pmapOptions).Sum(), expectedTrivial));
        double arrayHeavy = Median(rounds, () => Check(heavyArray.PMap(x => Work(x, spins), pmapOptions).Sum(), expectedHeavy));
        double rangeHeavy = Median(rounds, () => Check(Enumerable.Range(0, Heavy).PMap(x => Work(x, spins), pmapOptions).Sum(), expectedHeavy));
        const int Forked = 200;
        double perFork = Median(rounds, () => Check(Enumerable.Range(0, Forked).PMap(x => (long)x + 1,
            new PMapOptions { Limit = cores, Mode = PMapMode.ForkPerElement }).Sum(), Enumerable.Range(0, Forked).Sum(x => (long)x + 1))) / Forked;
        double perAdaptive = Median(rounds, () => Check(Enumerable.Range(0, Forked).PMap(x => (long)x + 1, pmapOptions).Sum(),
            Enumerable.Range(0, Forked).Sum(x => (long)x + 1))) / Forked;

        // PLINQ last: it starts the thread pool.
        double plinqArrayTrivial = Median(rounds, () => Check(array.AsParallel().AsOrdered().WithDegreeOfParallelism(cores).Select(x => (long)x + 1).Sum(), expectedTrivial));
        double plinqRangeTrivial = Median(rounds, () => Check(Enumerable.Range(0, Trivial).AsParallel().AsOrdered().WithDegreeOfParallelism(cores).Select(x => (long)x + 1).Sum(), expectedTrivial));
        double plinqHeavy = Median(rounds, () => Check(heavyArray.AsParallel().AsOrdered().WithDegreeOfParallelism(cores).Select(x => Work(x, spins)).Sum(), expectedHeavy));

        Console.WriteLine();
        Console.WriteLine("| work | PMap (default) | PLINQ (AsOrdered) | PLINQ time / PMap time |");
        Console.WriteLine("|---|---|---|---|");
        Row("10^6 trivial, int[] source", arrayTrivial, plinqArrayTrivial);
        Row("10^6 trivial, Enumerable.Range source", rangeTrivial, plinqRangeTrivial);
        Row("10^4 x 100 µs, int[] source", arrayHeavy, plinqHeavy);
        Row("10^4 x 100 µs, Enumerable.Range source", rangeHeavy, plinqHeavy);
        Console.WriteLine();
        Console.WriteLine($"{Forked} trivial elements: fork per element {perFork * 1e6:0} µs per element, default {perAdaptive * 1e6:0.0} µs per element");
        Console.WriteLine($"load {LoadAverage()}");
    }

    private static void Row(string work, double pmap, double plinq) =>
        Console.WriteLine($"| {work} | {pmap * 1e3:0.0} ms | {plinq * 1e3:0.0} ms | {plinq / pmap:0.00} |");

    /// <summary>About 100 µs (at the calibrated spin count) of floating-point work that depends on x.</summary>
    private static long Work(int x, int spins)
    {
        double v = x;
        for (int i = 0; i < spins; i++)
        {
            v = v * 1.0000001 + 0.5;
            v -= Math.Floor(v / 1e6) * 1e6;
        }
        return (long)v;
    }

    private static int Calibrate(TimeSpan each)
    {
        int spins = 1000;
        while (true)
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < 200; i++)
            {
                Work(i, spins);
            }
            var per = clock.Elapsed / 200;
            if (per >= each / 4)
            {
                return (int)(spins * (each / per));
            }
            spins *= 2;
        }
    }

    private static T Check<T>(T value, T expected) where T : IEquatable<T> =>
        value.Equals(expected) ? value : throw new InvalidOperationException($"wrong result: {value}, expected {expected}");

    private static double Median(int rounds, Action run)
    {
        var times = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            var clock = Stopwatch.StartNew();
            run();
            times[r] = clock.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[rounds / 2];
    }

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
