using System.Diagnostics;
using System.Globalization;

namespace PProcess.Examples.Programs;

/// <summary>
/// soak: many jobs through reusable children (each handed over alone: PMapMode.ForkPerElement with
/// Reuse), then many fork-per-task jobs, sampling the
/// parent's descriptors, child processes and resident memory before, during and after, to show
/// that nothing grows without bound. Usage: soak [--reused N] [--forks N] [--limit N]
/// (defaults 100000, 10000, the usable cores). Exits 1 if anything was left behind.
/// </summary>
public static class Soak
{
    public static void Run(Options options)
    {
        var extra = new ExtraArguments(options.Rest, "usage: soak [--reused N] [--forks N] [--limit N]");
        int reused = extra.Int("--reused", 100_000, 5);
        int forks = extra.Int("--forks", 10_000, 5);
        extra.ThrowIfAnyLeft();
        int limit = options.LimitGiven ? options.Limit : Cores.Usable;
        Console.WriteLine($"soak: {reused} jobs through {limit} reusable children, then {forks} fork-per-task jobs, {limit} at a time");
        Console.WriteLine("| phase | jobs done | descriptors | children | resident MB | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var clock = Stopwatch.StartNew();
        // A short warm-up first: the runtime keeps a descriptor open for each assembly it loads
        // (about 30 here: System.Linq, System.Text.Json...), once; the baseline comes after that.
        Sample("start", 0, clock);
        var reusedOptions = new PMapOptions { Limit = limit, Mode = PMapMode.ForkPerElement, Reuse = true };
        var forkedOptions = new PMapOptions { Limit = limit, Mode = PMapMode.ForkPerElement };
        _ = Enumerable.Range(0, 100).PMap(x => x, reusedOptions).Sum() + Enumerable.Range(0, 10).PMap(x => x, forkedOptions).Sum();
        var before = Sample("after warm-up", 0, clock);
        long sum = 0;
        int done = 0;
        foreach (var x in Enumerable.Range(0, reused).PMap(x => x * 2L, reusedOptions))
        {
            sum += x;
            if (++done % (reused / 5) == 0)
            {
                Sample("reused", done, clock);
            }
        }
        Check(sum == (long)reused * (reused - 1), $"reused: wrong sum {sum}");
        var middle = Sample("after reused", done, clock);
        sum = 0;
        done = 0;
        foreach (var x in Enumerable.Range(0, forks).PMap(x => x * 2L, forkedOptions))
        {
            sum += x;
            if (++done % (forks / 5) == 0)
            {
                Sample("forked", done, clock);
            }
        }
        Check(sum == (long)forks * (forks - 1), $"forked: wrong sum {sum}");
        var after = Sample("after forked", done, clock);

        Check(after.Descriptors == before.Descriptors, $"descriptors: {before.Descriptors} before, {after.Descriptors} after");
        Check(after.Children == 0 && middle.Children == 0, "children were left running");
        Console.WriteLine($"resident memory: {before.ResidentMb} MB before, {middle.ResidentMb} MB after the reused phase, {after.ResidentMb} MB at the end");
        Console.WriteLine(failed ? "soak: FAILED" : "soak: ok (no descriptor or child left, results correct)");
        if (failed)
        {
            Environment.ExitCode = 1;
        }
    }

    private static bool failed;

    private static void Check(bool ok, string what)
    {
        if (!ok)
        {
            Console.WriteLine($"soak: {what}");
            failed = true;
        }
    }

    private sealed record Figures(int Descriptors, int Children, long ResidentMb);

    private static Figures Sample(string phase, int done, Stopwatch clock)
    {
        int descriptors = Directory.GetFiles("/proc/self/fd").Length;
        int children = Directory.EnumerateDirectories("/proc/self/task")
            .Sum(task => File.ReadAllText(task + "/children").Split(' ', StringSplitOptions.RemoveEmptyEntries).Length);
        long residentKb = long.Parse(File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("VmRSS:"))
            .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        var figures = new Figures(descriptors, children, residentKb / 1024);
        Console.WriteLine($"| {phase} | {done} | {descriptors} | {children} | {figures.ResidentMb} | {clock.Elapsed.TotalSeconds:F1} |");
        return figures;
    }
}
