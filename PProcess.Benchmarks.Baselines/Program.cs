using System.Diagnostics;
using System.Globalization;
using PProcess.Benchmarks;

// The .NET baselines of PProcess.Benchmarks in a process of their own, with the runtime's default
// settings (tiered compilation, dynamic PGO, the concurrent GC): what a user's alternative to PMap
// runs as. Usage: PProcess.Benchmarks.Baselines WORKLOAD WAY [N] [ITERATIONS | WIDTH HEIGHT]
// prints the seconds of one run (after one untimed run), or for "steady" the milliseconds of a round.
//   trivial plinq|sequential N           x + 1 over N elements
//   cpu plinq|sequential N ITERATIONS    Work.Burn over N elements
//   mandelbrot plinq|sequential W H      Mandelbrot rows
//   usercode plinq|sequential N          UserCode.Element over N elements
//   steady                               UserCode.SteadyState: a program's median round, in ms
//   webstart                             Startup.Run: a minimal web app's start, one request, stop, in ms
var inv = CultureInfo.InvariantCulture;
string workload = args[0];
if (workload == "steady")
{
    Console.WriteLine(UserCode.SteadyState().ToString(inv));
    return 0;
}
if (workload == "webstart")
{
    return Startup.Run();
}
bool plinq = args[1] == "plinq";
int cores = Environment.ProcessorCount;
Func<long> run = workload switch
{
    "trivial" => Items(int.Parse(args[2], inv), x => x + 1),
    "cpu" => Items(int.Parse(args[2], inv), x => Work.Burn(int.Parse(args[3], inv), x)),
    "usercode" => Items(int.Parse(args[2], inv), UserCode.Element),
    "mandelbrot" => Mandelbrot(int.Parse(args[2], inv), int.Parse(args[3], inv)),
    _ => throw new ArgumentException($"no workload '{workload}'"),
};
run();
var clock = Stopwatch.StartNew();
long sum = run();
Console.WriteLine($"{clock.Elapsed.TotalSeconds.ToString(inv)} {sum.ToString(inv)}");
return 0;

// As PProcess.Benchmarks runs them in its own process: ordered PLINQ to a list, or a loop.
Func<long> Items(int n, Func<int, int> work)
{
    var items = Enumerable.Range(0, n).ToArray();
    return plinq
        ? () => items.AsParallel().AsOrdered().WithDegreeOfParallelism(cores).Select(work).ToList().Sum(x => (long)x)
        : () => items.Select(work).ToList().Sum(x => (long)x);
}

Func<long> Mandelbrot(int w, int h)
{
    var rows = Enumerable.Range(0, h);
    return plinq
        ? () => PProcess.Benchmarks.Mandelbrot.Checksum(rows.AsParallel().AsOrdered().WithDegreeOfParallelism(cores).Select(y => PProcess.Benchmarks.Mandelbrot.Row(y, w, h)).ToList())
        : () => PProcess.Benchmarks.Mandelbrot.Checksum(rows.Select(y => PProcess.Benchmarks.Mandelbrot.Row(y, w, h)).ToList());
}
