using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using PProcess;
using PProcess.Benchmarks;

// Side-by-side benchmarks of PProcess against its peers, all measured in one run (docs/performance.md).
// Figures are the best of several rounds (2 with --quick, 3 otherwise).
// dotnet run --project PProcess.Benchmarks -c Release [-- --quick] [--json FILE] [--only 1,2,3,4,5,6,7,8]
// dotnet run --project PProcess.Benchmarks -c Release -- ranks [--quick]: maps across MPI ranks (Ranks.cs).
if (args.Length > 0 && args[0] == "ranks")
{
    return Ranks.Run(args[1..]);
}
if (args.Length > 0 && args[0] == "profile")
{
    return Profile.Run(args[1..]);
}
if (args.Length > 0 && args[0] == "cold")
{
    return Cold.Run(args[1..]);
}
if (args.Length > 0 && args[0] == "sharing")
{
    return Sharing.Run(args[1..]);
}
if (args.Length > 0 && args[0] == "sharing-case")
{
    return Sharing.RunOne(args[1..]);
}
bool quick = args.Contains("--quick");
int jsonAt = Array.IndexOf(args, "--json");
string jsonPath = jsonAt >= 0 && jsonAt + 1 < args.Length ? args[jsonAt + 1] : "benchmark-results.json";
int onlyAt = Array.IndexOf(args, "--only");
var only = onlyAt >= 0 && onlyAt + 1 < args.Length ? args[onlyAt + 1].Split(',').Select(int.Parse).ToHashSet() : null;
bool Section(int n) => only is null || only.Contains(n);
int cores = Cores.Usable;
int rounds = quick ? 2 : 3;
int forks = quick ? 200 : 1000;
// Section 1 measures pprocess's pmap: a fork per element (PMap's default shares chunks among kept children).
var perElement = new PMapOptions { Mode = PMapMode.ForkPerElement };
var perElementLimit1 = new PMapOptions { Mode = PMapMode.ForkPerElement, Limit = 1 };
int trips = quick ? 5_000 : 20_000;
long bytes = quick ? 128L << 20 : 1L << 30;
int w = quick ? 800 : 1600, h = quick ? 600 : 1200;
var figures = new Dictionary<string, double?>();
var notes = new Dictionary<string, string>();

double Time(Action action)
{
    var clock = Stopwatch.StartNew();
    action();
    return clock.Elapsed.TotalSeconds;
}

// Each section runs once per round, the rounds one after another, so that both sides of a
// comparison meet the same load on this shared machine; a figure is its best round (the least
// disturbed one): the shortest time, or the highest rate.
// The 1-minute load average when each figure's best round was taken says how contended it was.
var samples = new Dictionary<string, List<double>>();
var loads = new Dictionary<string, double>();
double LoadAverage() => double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
void Record(string name, double? value, string note = "")
{
    if (value is { } v)
    {
        (samples.TryGetValue(name, out var list) ? list : samples[name] = []).Add(v);
        var best = name.EndsWith("_per_s", StringComparison.Ordinal) ? samples[name].Max() : samples[name].Min();
        if (best == v)
        {
            loads[name] = LoadAverage();
        }
        figures[name] = best;
    }
    else
    {
        figures.TryAdd(name, null);
    }
    if (note.Length > 0)
    {
        notes[name] = note;
    }
    Console.Error.WriteLine($"  {name}: {(value is { } x ? x.ToString("0.###", CultureInfo.InvariantCulture) : "-")} {note}");
}

Console.Error.WriteLine($"PProcess benchmarks ({(quick ? "quick" : "full")}), {cores} usable cores, {Environment.ProcessorCount} processors");

// Warm-up: the first fork compiles the child path (docs/fork-safety.md, rule 9).
_ = Enumerable.Range(0, 4).PMap(x => x + 1).ToList();
_ = Enumerable.Range(0, 4).PMap(x => x + 1, new PMapOptions { Transport = ChannelTransportKind.SharedMemory }).ToList();

long Block(int from, int count)
{
    long s = 0;
    for (int y = from; y < from + count; y++)
    {
        s += Mandelbrot.Row(y, w, h).Sum();
    }
    return s;
}
Block(0, 2);
var rows = Enumerable.Range(0, h);
long expected = 0, pmapDefaultSum = 0, pmapSum = 0, pmapReuseSum = 0, pmapShmSum = 0, plinqSum = 0;
int batch = Math.Max(1, h / (cores * 16));

var serializers = new (string Name, PProcess.Serialization.IChannelSerializer Serializer)[]
{
    ("json", PProcess.Serialization.DefaultChannelSerializer.Instance),
    ("memorypack", PProcess.Serialization.MemoryPackChannelSerializer.Instance),
};
var serializationCases = new (string Kind, object Value, int Iterations, int Echoes)[]
{
    ("record", SerializationBench.Samples(1)[0], quick ? 20_000 : 100_000, quick ? 2_000 : 10_000),
    ("list100", SerializationBench.Samples(100).ToList(), quick ? 2_000 : 10_000, quick ? 500 : 2_000),
    ("array10000", SerializationBench.Samples(10_000), quick ? 20 : 100, quick ? 10 : 50),
};

// Section 7's elements and their work, calibrated before any fork (Work.cs); the sums check every result.
var trivialItems = Enumerable.Range(0, 1_000_000).ToArray();
var cpuItems = Enumerable.Range(0, 10_000).ToArray();
var slowItems = Enumerable.Range(0, 100).ToArray();
int cpuIterations = Section(7) ? Work.Calibrate(TimeSpan.FromMicroseconds(100)) : 1;
int slowIterations = Section(7) ? Work.Calibrate(TimeSpan.FromMilliseconds(10)) : 1;
long trivialSum = trivialItems.Sum(x => (long)x + 1);
long cpuSum = Section(7) ? cpuItems.Sum(x => (long)Work.Burn(cpuIterations, x)) : 0;
long slowSum = Section(7) ? slowItems.Sum(x => (long)Work.Burn(slowIterations, x)) : 0;
var budget = TimeSpan.FromSeconds(quick ? 15 : 30);
// The tuned path before issue 14: a fixed batch handed to reused children.
PMapOptions Batched(int n) => new() { Mode = PMapMode.ForkPerElement, BatchSize = Math.Max(1, n / (cores * 16)), Reuse = true };

// A PMap row: enumerates the map, checks the sum, and gives up after the budget (a default engine
// that forks per element would take an hour over 10^6 elements).
void RecordPMap(string name, int[] items, Func<int, int> work, long expectedSum, PMapOptions? options)
{
    var clock = Stopwatch.StartNew();
    long sum = 0;
    int done = 0;
    foreach (var y in items.PMap(work, options))
    {
        sum += y;
        if ((++done & 255) == 0 && clock.Elapsed > budget)
        {
            break;
        }
    }
    double seconds = clock.Elapsed.TotalSeconds;
    string how = options is null ? "default options" : $"Mode = ForkPerElement, BatchSize {options.BatchSize}, Reuse";
    if (done < items.Length)
    {
        Record(name, null, $"stopped: {done} of {items.Length} elements in the {budget.TotalSeconds:0} s budget ({how})");
        return;
    }
    if (sum != expectedSum)
    {
        throw new InvalidOperationException($"{name}: PMap's results are wrong");
    }
    Record(name, seconds, how);
}

// The same elements and work as a PMap row through PLINQ, ordered as PMap is, on all cores.
void RecordPlinq(string name, int[] items, Func<int, int> work, long expectedSum)
{
    long sum = 0;
    double seconds = Time(() => sum = items.AsParallel().AsOrdered().WithDegreeOfParallelism(cores).Select(work).ToList().Sum(x => (long)x));
    if (sum != expectedSum)
    {
        throw new InvalidOperationException($"{name}: PLINQ's results are wrong");
    }
    Record(name, seconds);
}

for (int round = 1; round <= rounds; round++)
{
    Console.Error.WriteLine($"round {round} of {rounds}");
    // 1. Fork per task.
    if (Section(1))
    {
        Console.Error.WriteLine("1. fork per task");
        Record("pmap_fork_per_job_limit1_us", Time(() => Enumerable.Range(0, forks).PMap(x => x + 1, perElementLimit1).Sum()) / forks * 1e6,
            "Mode = ForkPerElement, limit 1");
        Record("pmap_fork_per_job_us", Time(() => Enumerable.Range(0, forks).PMap(x => x + 1, perElement).Sum()) / forks * 1e6,
            $"Mode = ForkPerElement, limit {cores}");
        Record("bare_fork_loop_us", Time(() =>
        {
            for (int i = 0; i < forks; i++)
            {
                int pid = Native.Fork();
                if (pid == 0)
                {
                    Native.Exit(0);
                }
                Native.WaitPid(pid, out _, 0);
            }
        }) / forks * 1e6);
    }

    // 6. Serialisation of records: the default serializer's JSON path against MemoryPack.
    if (Section(6))
    {
        Console.Error.WriteLine("6. serialisation: System.Text.Json (default) vs MemoryPack");
        foreach (var (kind, value, iterations, echoes) in serializationCases)
        {
            foreach (var (name, serializer) in serializers)
            {
                Record($"serialize_{name}_{kind}_us", SerializationBench.RoundTripUs(serializer, value, iterations),
                    $"{SerializationBench.Size(serializer, value)} bytes");
                Record($"channel_echo_{name}_{kind}_us", SerializationBench.ChannelEchoUs(serializer, value, echoes), "socket, round trip to a child");
            }
        }
    }

    // 5. Child speed (before PLINQ starts the thread pool).
    Console.Error.WriteLine("5. child speed");
    if (Section(5))
    {
        double parentBest = double.MaxValue, childBest = double.MaxValue;
        for (int r = 0; r < 2; r++)
        {
            parentBest = Math.Min(parentBest, Time(() => Block(h / 4, h / 4)));
            using var child = Fork.Start(c =>
            {
                var clock = Stopwatch.StartNew();
                Block(h / 4, h / 4);
                c.Send(clock.Elapsed.TotalSeconds);
            });
            childBest = Math.Min(childBest, child.Receive<double>());
        }
        Record("compute_parent_s", parentBest);
        Record("compute_child_s", childBest);
    }

    // 4. CPU-bound work on all cores: PMap against PLINQ and a sequential loop.
    Console.Error.WriteLine($"4. CPU-bound: Mandelbrot {w}x{h}, {Mandelbrot.MaxIterations} iterations");
    if (Section(4))
    {
        Record("mandelbrot_sequential_s", Time(() => expected = Mandelbrot.Checksum(rows.Select(y => Mandelbrot.Row(y, w, h)).ToList())));
        Record("mandelbrot_pmap_default_s", Time(() => pmapDefaultSum = Mandelbrot.Checksum(rows.PMap(y => Mandelbrot.Row(y, w, h)).ToList())),
            $"default options: adaptive chunks, limit {cores}");
        Record("mandelbrot_pmap_s", Time(() => pmapSum = Mandelbrot.Checksum(rows.PMap(y => Mandelbrot.Row(y, w, h),
            new PMapOptions { Mode = PMapMode.ForkPerElement, BatchSize = batch }).ToList())),
            $"Mode = ForkPerElement, batchSize {batch}, limit {cores}: a fork per batch");
        Record("mandelbrot_pmap_reuse_s", Time(() => pmapReuseSum = Mandelbrot.Checksum(rows.PMap(y => Mandelbrot.Row(y, w, h),
            new PMapOptions { Mode = PMapMode.ForkPerElement, BatchSize = batch, Reuse = true }).ToList())),
            $"Mode = ForkPerElement, batchSize {batch}, limit {cores}, reused children");
        Record("mandelbrot_pmap_reuse_shm_s", Time(() => pmapShmSum = Mandelbrot.Checksum(rows.PMap(y => Mandelbrot.Row(y, w, h),
            new PMapOptions { Mode = PMapMode.ForkPerElement, BatchSize = batch, Reuse = true, Transport = ChannelTransportKind.SharedMemory }).ToList())),
            "Mode = ForkPerElement, reused children, shared memory");
    }
}

// The peers of sections 1, 4, 5 and 6, after those sections' forks (Process.Start registers runtime signal handling).
Console.Error.WriteLine("peers");
for (int round = 1; round <= rounds; round++)
{
    if (Section(1))
    {
        var (pyFork, pyForkNote) = Peers.PythonForkLoop(forks);
        Record("python_fork_loop_us", pyFork, pyForkNote);
        var (pyPool, pyPoolNote) = Peers.PythonPoolMap(forks, cores);
        Record("python_pool_map_us", pyPool, pyPoolNote);
    }
}

// PLINQ after the sections above: it starts the thread pool, which their fork figures leave out.
for (int round = 1; round <= rounds && Section(4); round++)
{
    Record("mandelbrot_plinq_s", Time(() => plinqSum = Mandelbrot.Checksum(
        rows.AsParallel().AsOrdered().WithDegreeOfParallelism(cores).Select(y => Mandelbrot.Row(y, w, h)).ToList())));
    Record("mandelbrot_plinq_own_s", Peers.Baseline(expected, "mandelbrot", "plinq", w, h).Value, "own process, runtime defaults");
    Record("mandelbrot_sequential_own_s", Peers.Baseline(expected, "mandelbrot", "sequential", w, h).Value, "own process, runtime defaults");
    if (pmapDefaultSum != expected || pmapSum != expected || pmapReuseSum != expected || pmapShmSum != expected || plinqSum != expected)
    {
        throw new InvalidOperationException("the Mandelbrot results differ between the ways of computing them");
    }
}

// 2 and 7, issue 14's comparisons, in rounds of their own, so that each PProcess figure
// is taken seconds from its peer's, under the same load: round trips against the C ping-pong, and
// PMap with its default options against PLINQ, multiprocessing and pprocess. This process has
// started processes and the thread pool by now, as an application may have: forks still work
// (the child's thread pool is repaired, docs/fork-safety.md).
for (int round = 1; round <= rounds && (Section(2) || Section(7)); round++)
{
    Console.Error.WriteLine($"issue 14 round {round} of {rounds}");
    if (Section(2))
    {
        Console.Error.WriteLine("2. round trips");
        var (cPing, cPingNote) = Peers.CPingPong(trips * 2);
        Record("c_socketpair_round_trip_us", cPing, cPingNote);
        foreach (var kind in new[] { ChannelTransportKind.Socket, ChannelTransportKind.SharedMemory })
        {
            // Steady state: the child is forked and warmed up before the timed round trips (RoundTrips.cs).
            string k = kind == ChannelTransportKind.Socket ? "socket" : "shm";
            Record($"channel_round_trip_{k}_us", RoundTrips.ChannelEchoes(trips, kind).Microseconds);
            Record($"reusable_job_round_trip_{k}_us", RoundTrips.ReusedJobs(trips, kind).Microseconds,
                "Map(limit 1, reuse), MakeReusable, one child, its fork outside the timing");
        }
    }
    // 7. PMap with its default options over many small elements: 10^6 trivial elements, 10^4 of
    // ~100 µs, 100 of ~10 ms, the forks inside the timing; a row that outlasts its budget is
    // stopped and reported as such. Then the same elements through PLINQ and Python.
    if (Section(7))
    {
        Console.Error.WriteLine($"7. PMap defaults: {trivialItems.Length} trivial elements, {cpuItems.Length} of {cpuIterations} steps, {slowItems.Length} of {slowIterations} steps");
        RecordPMap("pmap_trivial_s", trivialItems, x => x + 1, trivialSum, null);
        var (cold, coldNote) = Peers.ColdPMap(trivialItems.Length);
        Record("pmap_trivial_cold_s", cold, coldNote);
        RecordPlinq("plinq_trivial_s", trivialItems, x => x + 1, trivialSum);
        Record("plinq_trivial_own_s", Peers.Baseline(trivialSum, "trivial", "plinq", trivialItems.Length).Value, "own process, runtime defaults");
        var (trivial, trivialNote) = Peers.PythonPoolMapAuto(trivialItems.Length, 0, cores);
        Record("python_pool_trivial_s", trivial, trivialNote);
        RecordPMap("pmap_trivial_batched_s", trivialItems, x => x + 1, trivialSum, Batched(trivialItems.Length));

        RecordPMap("pmap_cpu_s", cpuItems, x => Work.Burn(cpuIterations, x), cpuSum, null);
        RecordPlinq("plinq_cpu_s", cpuItems, x => Work.Burn(cpuIterations, x), cpuSum);
        Record("plinq_cpu_own_s", Peers.Baseline(cpuSum, "cpu", "plinq", cpuItems.Length, cpuIterations).Value, "own process, runtime defaults");
        var (cpu, cpuNote) = Peers.PythonPoolMapAuto(cpuItems.Length, 100, cores);
        Record("python_pool_cpu_s", cpu, cpuNote);
        RecordPMap("pmap_cpu_batched_s", cpuItems, x => Work.Burn(cpuIterations, x), cpuSum, Batched(cpuItems.Length));

        RecordPMap("pmap_slow_s", slowItems, x => Work.Burn(slowIterations, x), slowSum, null);
        var (slow, slowNote) = Peers.PprocessPmap(slowItems.Length, 10, cores);
        Record("pprocess_pmap_slow_s", slow, slowNote);
    }
}

// 8. Code of the kind users write (UserCode.cs), where tiered compilation and dynamic PGO matter:
// PMap over it against PLINQ (here and in a process with the runtime's defaults), a program's steady
// state with the package's settings against the runtime's defaults, and a minimal web app's start.
int userItems = quick ? 500 : 2_000;
long userSum = Section(8) ? Enumerable.Range(0, userItems).Sum(x => (long)UserCode.Element(x)) : 0;
for (int round = 1; round <= rounds && Section(8); round++)
{
    Console.Error.WriteLine($"8. user code: {userItems} elements, a program's steady state, a web app's start (round {round} of {rounds})");
    RecordPMap("pmap_usercode_s", Enumerable.Range(0, userItems).ToArray(), UserCode.Element, userSum, null);
    RecordPlinq("plinq_usercode_s", Enumerable.Range(0, userItems).ToArray(), UserCode.Element, userSum);
    Record("plinq_usercode_own_s", Peers.Baseline(userSum, "usercode", "plinq", userItems).Value, "own process, runtime defaults");
    Record("sequential_usercode_own_s", Peers.Baseline(userSum, "usercode", "sequential", userItems).Value, "own process, runtime defaults");
    for (int i = 0; i < 2; i++)
    {
        Record("steady_with_package_ms", Peers.WithPackage("steady").Value, "the program referencing PProcess: median of the last 20 rounds of 4 s");
        Record("steady_defaults_ms", Peers.Baseline(null, "steady").Value, "the same program without it");
        Record("webstart_with_package_ms", Peers.WithPackage("webstart").Value, "process start to one request answered and the host stopped");
        Record("webstart_defaults_ms", Peers.BaselineWebApp().Value, "the same without PProcess, with server GC as the Web SDK sets it");
    }
}

// 3. Throughput, in rounds of its own, last. A fork's cost grows with the parent's
// resident memory, and the heap keeps freed 1 GiB arrays resident until an aggressive collection:
// a bare fork loop measured 0.77 ms per fork at 30 MiB, 63 ms after two 1 GiB arrays were freed
// and collected (RSS still 2 GiB), and 2.1 ms after GC.Collect(2, GCCollectionMode.Aggressive)
// (docs/performance.md).
for (int round = 1; round <= rounds; round++)
{
    // 3. Throughput: one large result.
    if (Section(3))
    {
        Console.Error.WriteLine($"3. throughput, {bytes >> 20} MiB");
        var big = GC.AllocateUninitializedArray<byte>((int)bytes);
        new Random(1).NextBytes(big.AsSpan(0, 1 << 20));
        for (long at = 1 << 20; at < bytes; at += 1 << 20)
        {
            big.AsSpan(0, 1 << 20).CopyTo(big.AsSpan((int)at));
        }
        var target = new byte[bytes];
        target.AsSpan().Fill(1);
        Record("memcpy_gib_per_s", bytes / Time(() => big.AsSpan().CopyTo(target)) / (1 << 30), "into a touched array");
        target = null;
        foreach (var kind in new[] { ChannelTransportKind.Socket, ChannelTransportKind.SharedMemory })
        {
            string k = kind == ChannelTransportKind.Socket ? "socket" : "shm";
            byte[]? received = null;
            double seconds = Time(() =>
            {
                using var channel = Fork.Start(c => c.Send(big), new ChannelOptions { Transport = kind });
                received = channel.Receive<byte[]>();
            });
            if (received!.Length != bytes || received[12345] != big[12345] || received[^1] != big[^1])
            {
                throw new InvalidOperationException("the large result arrived damaged");
            }
            received = null;
            GC.Collect();
            Record($"transfer_{k}_gib_per_s", bytes / seconds / (1 << 30), "child to parent, fork and allocation included");
        }
        big = null;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}

// The table: each line a PProcess figure, the figure it is compared with, their ratio, and the goal.
double? F(string name) => figures.GetValueOrDefault(name);
double? Ratio(double? a, double? b) => a is { } x && b is { } y && y != 0 ? x / y : null;
var lines = new List<(string What, string Ours, string Theirs, double? Ratio, string Goal, bool? Met)>();
void Line(string what, string ours, string theirs, double? ratio, string goal, Func<double, bool>? met) =>
    lines.Add((what, ours, theirs, ratio, goal, ratio is { } r && met is not null ? met(r) : null));
string Load(string name) => loads.TryGetValue(name, out var l) ? $" (load {l:0.0})" : "";
string Us(string name) => F(name) is { } v ? $"{v:0.##} µs{Load(name)}" : "skipped";
string Gib(string name) => F(name) is { } v ? $"{v:0.##} GiB/s{Load(name)}" : "skipped";
// A row of two times where the shorter wins: the ratio of throughputs, the baseline's time over ours.
void Throughput(string what, string ours, string theirs, string goal = "", Func<double, bool>? met = null) =>
    Line(what, Sec(ours), Sec(theirs), Ratio(F(theirs), F(ours)), goal, met);
string Sec(string name) => F(name) is { } v ? $"{v * 1000:0.#} ms{Load(name)}" : "skipped";
string Ms(string name) => F(name) is { } v ? $"{v:0.#} ms{Load(name)}" : "skipped";

Line("PMap fork per job, limit 1 / bare fork+_exit+waitpid (.NET)", Us("pmap_fork_per_job_limit1_us"), Us("bare_fork_loop_us"),
    Ratio(F("pmap_fork_per_job_limit1_us"), F("bare_fork_loop_us")), "≤ 1.3", r => r <= 1.3);
Line($"PMap fork per job, limit {cores} / bare fork loop (.NET)", Us("pmap_fork_per_job_us"), Us("bare_fork_loop_us"),
    Ratio(F("pmap_fork_per_job_us"), F("bare_fork_loop_us")), "≤ 1.3", r => r <= 1.3);
Line("PMap fork per job, limit 1 / Python os.fork loop", Us("pmap_fork_per_job_limit1_us"), Us("python_fork_loop_us"),
    Ratio(F("pmap_fork_per_job_limit1_us"), F("python_fork_loop_us")), "< 1", r => r < 1);
Line($"PMap fork per job, limit {cores} / Python Pool.map(chunksize=1)", Us("pmap_fork_per_job_us"), Us("python_pool_map_us"),
    Ratio(F("pmap_fork_per_job_us"), F("python_pool_map_us")), "", null);
Line($"PMap defaults, {trivialItems.Length:N0} trivial elements, forks included (s)", Sec("pmap_trivial_s"), "1 s",
    F("pmap_trivial_s"), "< 1", r => r < 1);
Line($"PMap defaults, {trivialItems.Length:N0} trivial elements, a new process's first PMap (s)", Sec("pmap_trivial_cold_s"), "1 s",
    F("pmap_trivial_cold_s"), "< 1", r => r < 1);
Throughput($"PMap defaults / PLINQ, {trivialItems.Length:N0} trivial elements (throughput)", "pmap_trivial_s", "plinq_trivial_s");
Throughput($"PMap defaults / Python Pool.map (auto chunks), {trivialItems.Length:N0} trivial elements (throughput)", "pmap_trivial_s", "python_pool_trivial_s");
Throughput($"PMap ForkPerElement, BatchSize n/{cores * 16}, Reuse / PLINQ, {trivialItems.Length:N0} trivial elements (throughput)", "pmap_trivial_batched_s", "plinq_trivial_s");
Throughput($"PMap defaults / PLINQ, {cpuItems.Length:N0} elements of ~100 µs (throughput)", "pmap_cpu_s", "plinq_cpu_s", "≥ 0.9", r => r >= 0.9);
Throughput($"PMap defaults / Python Pool.map (auto chunks), {cpuItems.Length:N0} elements of ~100 µs (throughput)", "pmap_cpu_s", "python_pool_cpu_s");
Throughput($"PMap ForkPerElement, BatchSize n/{cores * 16}, Reuse / PLINQ, {cpuItems.Length:N0} elements of ~100 µs (throughput)", "pmap_cpu_batched_s", "plinq_cpu_s");
Line($"PMap defaults / pprocess pmap, {slowItems.Length} elements of ~10 ms (time)", Sec("pmap_slow_s"), Sec("pprocess_pmap_slow_s"),
    Ratio(F("pmap_slow_s"), F("pprocess_pmap_slow_s")), "", null);
Line("reusable job round trip, shared memory (µs)", Us("reusable_job_round_trip_shm_us"), "2 µs",
    F("reusable_job_round_trip_shm_us") / 2, "≤ 1", r => r <= 1);
Line("reusable job round trip, socket / C socketpair ping-pong", Us("reusable_job_round_trip_socket_us"), Us("c_socketpair_round_trip_us"),
    Ratio(F("reusable_job_round_trip_socket_us"), F("c_socketpair_round_trip_us")), "≤ 2", r => r <= 2);
Line("channel ping-pong, shared memory (µs)", Us("channel_round_trip_shm_us"), "2 µs", F("channel_round_trip_shm_us") / 2, "", null);
Line("channel ping-pong, socket / C socketpair ping-pong", Us("channel_round_trip_socket_us"), Us("c_socketpair_round_trip_us"),
    Ratio(F("channel_round_trip_socket_us"), F("c_socketpair_round_trip_us")), "", null);
Line($"{bytes >> 20} MiB result over shared memory / memcpy", Gib("transfer_shm_gib_per_s"), Gib("memcpy_gib_per_s"),
    Ratio(F("transfer_shm_gib_per_s"), F("memcpy_gib_per_s")), "≥ 0.5", r => r >= 0.5);
Line($"{bytes >> 20} MiB result over a socket / memcpy", Gib("transfer_socket_gib_per_s"), Gib("memcpy_gib_per_s"),
    Ratio(F("transfer_socket_gib_per_s"), F("memcpy_gib_per_s")), "", null);
Throughput("Mandelbrot throughput: PMap defaults / PLINQ", "mandelbrot_pmap_default_s", "mandelbrot_plinq_s", "≥ 0.9", r => r >= 0.9);
Throughput("Mandelbrot throughput: PMap ForkPerElement (reuse) / PLINQ", "mandelbrot_pmap_reuse_s", "mandelbrot_plinq_s", "≥ 0.9", r => r >= 0.9);
Throughput("Mandelbrot throughput: PMap ForkPerElement (reuse, shared memory) / PLINQ", "mandelbrot_pmap_reuse_shm_s", "mandelbrot_plinq_s", "≥ 0.9", r => r >= 0.9);
Throughput("Mandelbrot throughput: PMap ForkPerElement (a fork per batch) / PLINQ", "mandelbrot_pmap_s", "mandelbrot_plinq_s");
Throughput("Mandelbrot throughput: PLINQ / sequential loop", "mandelbrot_plinq_s", "mandelbrot_sequential_s");
Throughput("Mandelbrot throughput: PMap defaults / sequential loop", "mandelbrot_pmap_default_s", "mandelbrot_sequential_s");
Throughput("child compute speed / parent", "compute_child_s", "compute_parent_s", "≥ 0.95", r => r >= 0.95);
Throughput($"PLINQ in this process / PLINQ in its own with runtime defaults, {trivialItems.Length:N0} trivial elements", "plinq_trivial_s", "plinq_trivial_own_s");
Throughput($"PMap defaults / PLINQ in its own process with runtime defaults, {trivialItems.Length:N0} trivial elements (throughput)", "pmap_trivial_s", "plinq_trivial_own_s", "≥ 1", r => r >= 1);
Throughput($"PMap defaults / PLINQ in its own process with runtime defaults, {cpuItems.Length:N0} elements of ~100 µs (throughput)", "pmap_cpu_s", "plinq_cpu_own_s", "≥ 0.95", r => r >= 0.95);
Throughput("Mandelbrot throughput: PLINQ in this process / in its own with runtime defaults", "mandelbrot_plinq_s", "mandelbrot_plinq_own_s");
Throughput("Mandelbrot throughput: PMap defaults / PLINQ in its own process with runtime defaults", "mandelbrot_pmap_default_s", "mandelbrot_plinq_own_s", "≥ 0.9", r => r >= 0.9);
Throughput("Mandelbrot throughput: sequential loop in this process / in its own with runtime defaults", "mandelbrot_sequential_s", "mandelbrot_sequential_own_s");
Throughput($"user code, {userItems:N0} elements: PMap defaults / PLINQ in its own process with runtime defaults (throughput)", "pmap_usercode_s", "plinq_usercode_own_s", "≥ 0.9", r => r >= 0.9);
Throughput($"user code, {userItems:N0} elements: PLINQ in this process / in its own with runtime defaults", "plinq_usercode_s", "plinq_usercode_own_s");
Throughput($"user code, {userItems:N0} elements: PMap defaults / sequential loop in its own process", "pmap_usercode_s", "sequential_usercode_own_s");
Line("a program's steady state (user code): with the package's settings / runtime defaults (time)", Ms("steady_with_package_ms"), Ms("steady_defaults_ms"),
    Ratio(F("steady_with_package_ms"), F("steady_defaults_ms")), "≤ 1.05", r => r <= 1.05);
Line("a minimal web app's start: with the package's settings / runtime defaults and server GC (time)", Ms("webstart_with_package_ms"), Ms("webstart_defaults_ms"),
    Ratio(F("webstart_with_package_ms"), F("webstart_defaults_ms")), "≤ 1.05", r => r <= 1.05);

foreach (var (kind, what) in new[] { ("record", "one record"), ("list100", "List of 100 records"), ("array10000", "array of 10,000 records") })
{
    Line($"serialize + deserialize {what}: MemoryPack / System.Text.Json", Us($"serialize_memorypack_{kind}_us"), Us($"serialize_json_{kind}_us"),
        Ratio(F($"serialize_memorypack_{kind}_us"), F($"serialize_json_{kind}_us")), "", null);
    Line($"channel echo of {what}: MemoryPack / System.Text.Json", Us($"channel_echo_memorypack_{kind}_us"), Us($"channel_echo_json_{kind}_us"),
        Ratio(F($"channel_echo_memorypack_{kind}_us"), F($"channel_echo_json_{kind}_us")), "", null);
}

Console.WriteLine($"| comparison | PProcess | baseline | ratio | goal | met |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var l in lines)
{
    Console.WriteLine($"| {l.What} | {l.Ours} | {l.Theirs} | {(l.Ratio is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) : "-")} | {l.Goal} | {(l.Met is { } m ? (m ? "yes" : "no") : "")} |");
}
Console.WriteLine($"\n(load N): the 1-minute load average when that figure's best round was taken ({cores} cores; {cores} means all busy).");
foreach (var (name, note) in notes.Where(n => n.Value.StartsWith("skipped", StringComparison.Ordinal) || n.Value.StartsWith("stopped", StringComparison.Ordinal)))
{
    Console.WriteLine($"\n{name}: {note}");
}

var report = new
{
    machine = new { processors = Environment.ProcessorCount, usableCores = cores, os = RuntimeInformation.OSDescription, runtime = RuntimeInformation.FrameworkDescription },
    quick,
    rounds,
    sizes = new
    {
        forks, trips, bytes, mandelbrot = new { width = w, height = h, Mandelbrot.MaxIterations },
        pmap = new { trivial = trivialItems.Length, cpu = cpuItems.Length, cpuIterations, slow = slowItems.Length, slowIterations, budgetSeconds = budget.TotalSeconds },
    },
    figures,
    samples,
    loadAverageAtBest = loads,
    notes,
    ratios = lines.Select(l => new { comparison = l.What, ratio = l.Ratio, goal = l.Goal, met = l.Met }),
};
File.WriteAllText(jsonPath, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
Console.Error.WriteLine($"figures written to {Path.GetFullPath(jsonPath)}");
return 0;
