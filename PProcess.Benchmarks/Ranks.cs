using System.Diagnostics;
using System.Globalization;
using PProcess;
using PProcess.Mpi;

namespace PProcess.Benchmarks;

/// <summary>
/// The cost of a map across MPI ranks (docs/scaling.md), side by side in one run: the same
/// Mandelbrot map on 1 rank and on 2 ranks of this machine, and, with a rank made slow, dealing
/// on request against interleaved dealing. <c>dotnet run --project PProcess.Benchmarks -c Release -- ranks [--quick]</c>
/// starts each configuration under mpiexec in turn, round after round, so that they meet the same
/// load; each figure is the best round. The ranks themselves run <c>ranks --worker ...</c>.
/// </summary>
internal static class Ranks
{
    internal static int Run(string[] args) => args.Contains("--worker") ? Worker(args) : Drive(args);

    private static int Drive(string[] args)
    {
        var mpiexec = new[] { "mpiexec.mpich", "mpiexec" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);
        if (mpiexec is null)
        {
            Console.Error.WriteLine("ranks: skipped, mpiexec is not on PATH (apt-get install mpich)");
            return 0;
        }
        bool quick = args.Contains("--quick");
        int rounds = quick ? 2 : 3;
        int cores = Cores.Usable;
        var size = quick ? "800x600" : "1600x1200";
        (string Name, int Ranks, string[] Worker)[] configurations =
        [
            ($"Mandelbrot {size}, 1 rank x {cores} children", 1, ["--workload", "mandelbrot", "--size", size, "--limit", $"{cores}"]),
            ($"Mandelbrot {size}, 2 ranks x {Math.Max(1, cores / 2)} children", 2, ["--workload", "mandelbrot", "--size", size, "--limit", $"{Math.Max(1, cores / 2)}"]),
            ($"Mandelbrot {size}, 2 ranks x {cores} children", 2, ["--workload", "mandelbrot", "--size", size, "--limit", $"{cores}"]),
            ("200 sleeps, rank 1 3x slower, dealt on request", 2, ["--workload", "slow-rank", "--limit", "2", "--deal", "Dynamic"]),
            ("200 sleeps, rank 1 3x slower, interleaved", 2, ["--workload", "slow-rank", "--limit", "2", "--deal", "Interleaved"]),
        ];
        var best = new double[configurations.Length];
        Array.Fill(best, double.MaxValue);
        var checks = new string?[configurations.Length];
        var self = typeof(Ranks).Assembly.Location;
        for (int round = 1; round <= rounds; round++)
        {
            for (int i = 0; i < configurations.Length; i++)
            {
                var (name, ranks, worker) = configurations[i];
                var start = new ProcessStartInfo(mpiexec) { RedirectStandardOutput = true };
                foreach (var word in (string[])["-n", $"{ranks}", "dotnet", self, "ranks", "--worker", .. worker])
                {
                    start.ArgumentList.Add(word);
                }
                using var process = Process.Start(start)!;
                var output = process.StandardOutput.ReadToEnd().Trim().Split(' ');
                process.WaitForExit();
                if (process.ExitCode != 0 || output.Length != 2)
                {
                    throw new InvalidOperationException($"{name}: mpiexec exited with {process.ExitCode}, printed '{string.Join(' ', output)}'");
                }
                double seconds = double.Parse(output[0], CultureInfo.InvariantCulture);
                Console.Error.WriteLine($"  round {round}: {name}: {seconds:0.000} s (checksum {output[1]})");
                best[i] = Math.Min(best[i], seconds);
                if (checks[i] is { } earlier && earlier != output[1])
                {
                    throw new InvalidOperationException($"{name}: the checksum changed between rounds");
                }
                checks[i] = output[1];
            }
        }
        if (checks[0] != checks[1] || checks[0] != checks[2] || checks[3] != checks[4])
        {
            throw new InvalidOperationException("the results differ between 1 and 2 ranks");
        }
        Console.WriteLine($"| configuration ({cores} cores, best of {rounds}) | seconds | ratio to the first of its group |");
        Console.WriteLine("|---|---|---|");
        for (int i = 0; i < configurations.Length; i++)
        {
            double baseline = best[i < 3 ? 0 : 3];
            Console.WriteLine($"| {configurations[i].Name} | {best[i]:0.000} | {best[i] / baseline:0.00} |");
        }
        return 0;
    }

    /// <summary>One rank of a configuration: a warm-up map, then the timed one; rank 0 prints "seconds checksum".</summary>
    private static int Worker(string[] args)
    {
        string Arg(string name, string fallback) => Array.IndexOf(args, name) is int at and >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
        int limit = int.Parse(Arg("--limit", "2"), CultureInfo.InvariantCulture);
        var deal = Enum.Parse<MpiDeal>(Arg("--deal", "Dynamic"));
        int rank = MpiWorld.Rank;
        // The first map forks for the first time and compiles the child's path (docs/fork-safety.md, rule 9): not timed.
        _ = new[] { 1, 2, 3, 4 }.PMapAcrossRanks(x => x + 1, new MpiPMapOptions { Limit = limit }).HasResults;
        var clock = Stopwatch.StartNew();
        long checksum;
        if (Arg("--workload", "mandelbrot") == "mandelbrot")
        {
            var size = Arg("--size", "1600x1200").Split('x').Select(int.Parse).ToArray();
            int w = size[0], h = size[1];
            int batch = Math.Max(1, h / (Cores.Usable * 16));
            var rows = Enumerable.Range(0, h).ToArray()
                .PMapAcrossRanks(y => Mandelbrot.Row(y, w, h), new MpiPMapOptions { Limit = limit, BatchSize = batch, Deal = deal });
            if (!rows.HasResults)
            {
                return 0;
            }
            checksum = Mandelbrot.Checksum(rows);
        }
        else
        {
            // Waiting, not computing: the ranks do not compete for this machine's cores, and rank 1 takes 3 times as long per element.
            var results = Enumerable.Range(0, 200).ToArray().PMapAcrossRanks(x =>
            {
                Thread.Sleep(rank == 1 ? 30 : 10);
                return (long)x;
            }, new MpiPMapOptions { Limit = limit, Deal = deal });
            if (!results.HasResults)
            {
                return 0;
            }
            checksum = results.Sum();
        }
        Console.WriteLine($"{clock.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)} {checksum}");
        return 0;
    }
}
