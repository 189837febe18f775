using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PProcess.Tests.Support;
using static PProcess.Tests.Support.CopyOnWrite;

namespace PProcess.Benchmarks;

/// <summary>
/// Copy-on-write while children live (issue 27; docs/performance.md, "Copy-on-write that holds"):
/// what each child un-shares of its parent's heap beyond its own objects, over the parent's heap,
/// measured by the harness the tests use (<see cref="CopyOnWrite"/>), for each kind of child,
/// with the library's measures (<see cref="ChannelOptions.KeepHeapShared"/>) and without, and for
/// Python's multiprocessing (fork, with and without <c>gc.freeze</c>) and mpire's shared objects.
/// Each case runs in a process of its own, so that each parent forks with the heap it built and
/// nothing of an earlier case.
/// <code>
/// dotnet run --project PProcess.Benchmarks -c Release -- sharing [--quick] [--entries N] [--only pmap,pool,...] [--json FILE]
/// </code>
/// </summary>
internal static class Sharing
{
    /// <summary>One case: which children, what their jobs do, how many, with or without the library's measures.</summary>
    internal sealed record Case(string Kind, Workload Workload, int Jobs, bool Keep, Scale Scale)
    {
        internal string Name => $"{Kind}_{Workload.ToString().ToLowerInvariant()}_{Jobs}{(Keep ? "" : "_off")}";
    }

    /// <summary>What a case measured, printed by the case's process as one line of JSON.</summary>
    internal sealed record Outcome(string Name, long ParentHeap, double Seconds, double? WorstRatio, long WorstUnshared, double? MostDataCopied,
        int Children, int FullCollections, int Replaced, double ParentCollectionSeconds, string Note);

    /// <summary>A pool's jobs are smaller than a map's (2,000 of them): 20,000 lookups and 15,000 arrays (4 MB) each, the same cache.</summary>
    private static readonly Scale PoolScale = new(20_000, 15_000, 600_000);

    internal static IEnumerable<Case> Cases(bool quick, HashSet<string>? only)
    {
        var issue = Scale.Issue;
        var cases = new List<Case>();
        foreach (bool keep in new[] { true, false })
        {
            // Issue 27's scenario: 2 kept children, a job each element; 8 jobs, and 24, past the point where a child's collection reaches generation 2.
            cases.Add(new("pmap", Workload.Retain, 8, keep, issue));
            cases.Add(new("pmap", Workload.Retain, 24, keep, issue));
            cases.Add(new("pmap", Workload.ReadOnly, 8, keep, issue));
            cases.Add(new("pmap", Workload.Garbage, 8, keep, issue));
            cases.Add(new("pmap", Workload.Collect, 4, keep, issue));
            cases.Add(new("pool", Workload.Retain, quick ? 500 : 2_000, keep, PoolScale));
            cases.Add(new("perelement", Workload.Retain, 8, keep, issue));
            cases.Add(new("exchange", Workload.Retain, 24, keep, issue));
        }
        return cases.Where(c => only is null || only.Contains(c.Kind));
    }

    /// <summary><c>sharing</c>: runs every case in a process of its own, then the Python peers, and prints the table.</summary>
    internal static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int entries = Option(args, "--entries") is { } e ? int.Parse(e, CultureInfo.InvariantCulture) : 2_500_000;
        var only = Option(args, "--only")?.Split(',').ToHashSet();
        string json = Option(args, "--json") ?? "sharing-results.json";
        var outcomes = new List<Outcome>();
        foreach (var c in Cases(quick, only))
        {
            Console.Error.WriteLine($"  {c.Name} ...");
            outcomes.Add(RunCase(c, entries));
            Console.Error.WriteLine($"  {Describe(outcomes[^1])}");
        }
        if (only is null || only.Contains("python"))
        {
            foreach (var mode in new[] { "fork", "fork_freeze", "mpire" })
            {
                Console.Error.WriteLine($"  python {mode} ...");
                outcomes.Add(PythonCase(mode, entries, quick));
                Console.Error.WriteLine($"  {Describe(outcomes[^1])}");
            }
        }
        Console.WriteLine($"Un-shared memory per child / parent heap ({entries:N0} entries, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        Console.WriteLine();
        Console.WriteLine("| case | parent heap | time | worst un-shared per child | / parent heap | parent's data pages copied | children | full GCs in children | replaced | parent's collections before forks | note |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var o in outcomes)
        {
            Console.WriteLine($"| {o.Name} | {o.ParentHeap >> 20} MB | {o.Seconds:0.00} s | {o.WorstUnshared >> 20} MB | {o.WorstRatio:0.00} | {o.MostDataCopied:P0} | " +
                $"{o.Children} | {o.FullCollections} | {o.Replaced} | {o.ParentCollectionSeconds:0.00} s | {o.Note} |");
        }
        File.WriteAllText(json, JsonSerializer.Serialize(outcomes, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    internal static string Describe(Outcome o) =>
        $"{o.Name}: parent heap {o.ParentHeap >> 20} MB, {o.Seconds:0.00} s, worst un-shared {o.WorstUnshared >> 20} MB ({o.WorstRatio:0.00}), " +
        $"{o.Children} children, {o.FullCollections} full GCs, {o.Replaced} replaced {o.Note}";

    private static string? Option(string[] args, string name)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    /// <summary>Runs a case as <c>sharing-case</c> in a new process of this benchmark, and reads its line of JSON.</summary>
    internal static Outcome RunCase(Case c, int entries)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(Sharing).Assembly.Location);
        }
        foreach (var a in new[] { "sharing-case", c.Kind, c.Workload.ToString(), c.Jobs.ToString(CultureInfo.InvariantCulture), c.Keep ? "on" : "off",
            c.Scale.Lookups.ToString(CultureInfo.InvariantCulture), c.Scale.Arrays.ToString(CultureInfo.InvariantCulture),
            c.Scale.CacheCap.ToString(CultureInfo.InvariantCulture), entries.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        return process.ExitCode == 0 && line is not null
            ? JsonSerializer.Deserialize<Outcome>(line)!
            : new Outcome(c.Name, 0, 0, null, 0, null, 0, 0, 0, 0, $"failed: exit {process.ExitCode}");
    }

    /// <summary><c>sharing-case KIND WORKLOAD JOBS on|off LOOKUPS ARRAYS CAP ENTRIES</c>: one case, in this process.</summary>
    internal static int RunOne(string[] args)
    {
        var c = new Case(args[0], Enum.Parse<Workload>(args[1]), int.Parse(args[2], CultureInfo.InvariantCulture), args[3] == "on",
            new Scale(int.Parse(args[4], CultureInfo.InvariantCulture), int.Parse(args[5], CultureInfo.InvariantCulture), int.Parse(args[6], CultureInfo.InvariantCulture)));
        BuildParent(int.Parse(args[7], CultureInfo.InvariantCulture));
        long heap = ParentHeap();
        var seeds = Enumerable.Range(0, c.Jobs).ToArray();
        var sharing = new SharingInsights();
        caseScale = c.Scale;
        caseWorkload = c.Workload;
        var clock = Stopwatch.StartNew();
        Reading[] readings;
        string note = "";
        switch (c.Kind)
        {
            case "pmap":
                readings = seeds.PMap(static seed => Job(seed, caseWorkload, caseScale),
                    new PMapOptions { Limit = 2, BatchSize = 1, KeepHeapShared = c.Keep, Sharing = sharing }).ToArray();
                note = "PMap, 2 kept children, BatchSize 1";
                break;
            case "perelement":
                readings = seeds.PMap(static seed => Job(seed, caseWorkload, caseScale),
                    new PMapOptions { Limit = 2, Mode = PMapMode.ForkPerElement, KeepHeapShared = c.Keep }).ToArray();
                note = "PMap, Mode = ForkPerElement, limit 2";
                break;
            case "pool":
                using (var pool = new WorkerPool(new WorkerPoolOptions { Workers = 2, KeepHeapShared = c.Keep }))
                {
                    // Every job's reading; the pool's own measure of its workers is taken before they end.
                    readings = pool.Map<(int, Workload, Scale), Reading>(PoolJob, seeds.Select(s => (s, c.Workload, c.Scale)));
                    pool.MeasureSharing();
                    sharing = pool.Sharing;
                }
                note = "WorkerPool, 2 workers";
                break;
            case "exchange":
                using (var map = new Map<Reading>(new ExchangeOptions { Limit = 2, Reuse = true, KeepHeapShared = c.Keep }))
                {
                    var job = map.Manage(Exchange.MakeReusable(static (int seed) => Job(seed, caseWorkload, caseScale)));
                    foreach (var seed in seeds)
                    {
                        job(seed);
                    }
                    readings = [.. map];
                }
                note = "Map with Reuse, MakeReusable, limit 2";
                break;
            default:
                throw new ArgumentException($"unknown kind {c.Kind}");
        }
        double seconds = clock.Elapsed.TotalSeconds;
        if (!readings.Select(r => r.Answer).SequenceEqual(seeds.Select(s => Expected(s, c.Scale))))
        {
            Console.Error.WriteLine($"{c.Name}: wrong answers");
            return 1;
        }
        var worst = readings.MaxBy(r => r.UnsharedBytes);
        var outcome = new Outcome(c.Name, heap, seconds, (double)worst.UnsharedBytes / heap, worst.UnsharedBytes, readings.Max(r => r.CopiedData),
            readings.Select(r => r.Pid).Distinct().Count(),
            readings.GroupBy(r => r.Pid).Sum(g => g.Max(r => r.FullCollections)), sharing.ChildrenReplaced, sharing.ParentCollectionTime.TotalSeconds, note);
        Console.WriteLine(JsonSerializer.Serialize(outcome));
        return 0;
    }

    // A case's job, for the children to read (a lambda that captures nothing is prepared once).
    private static Scale caseScale;
    private static Workload caseWorkload;

    private static Reading PoolJob((int Seed, Workload Workload, Scale Scale) job) => Job(job.Seed, job.Workload, job.Scale);

    /// <summary>Peers/cow.py: the same parent dictionary and jobs in Python; null figures with the reason when it cannot run.</summary>
    internal static Outcome PythonCase(string mode, int entries, bool quick)
    {
        string name = $"python_{mode}_retain_24";
        var (output, note) = Peers.RunPython(Path.Combine(AppContext.BaseDirectory, "Peers", "cow.py"), mode, entries.ToString(CultureInfo.InvariantCulture), "24");
        if (output is null)
        {
            return new Outcome(name, 0, 0, null, 0, null, 0, 0, 0, 0, note);
        }
        var words = output.Trim().Split(' ');
        long heap = long.Parse(words[0], CultureInfo.InvariantCulture);
        long worst = long.Parse(words[2], CultureInfo.InvariantCulture);
        return new Outcome(name, heap, double.Parse(words[1], CultureInfo.InvariantCulture), (double)worst / heap, worst,
            double.Parse(words[3], CultureInfo.InvariantCulture), int.Parse(words[4], CultureInfo.InvariantCulture), 0, 0, 0, string.Join(' ', words[5..]));
    }
}
