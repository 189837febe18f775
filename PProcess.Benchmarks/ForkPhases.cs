using System.Diagnostics;
using System.Globalization;
using PProcess;

namespace PProcess.Benchmarks;

/// <summary>
/// Fork per element at limit 1 beside a bare fork loop, for <c>fork_phases.sh</c> to trace with
/// perf's scheduler and system-call tracepoints (docs/performance.md, "Fork per element: where the
/// time goes"): <c>dotnet run --project PProcess.Benchmarks -c Release -- fork-phases [N]</c>.
/// Runs N elements of a trivial PMap with <c>Mode = ForkPerElement, Limit = 1</c>, then N bare
/// fork+_exit+waitpid, and prints the µs per fork of each.
/// </summary>
internal static class ForkPhases
{
    internal static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
        var options = new PMapOptions { Mode = PMapMode.ForkPerElement, Limit = 1 };
        // A first map compiles the fork path, outside the traced figures' comparison.
        _ = Enumerable.Range(0, 2).PMap(x => x + 1, options).Sum();
        var clock = Stopwatch.StartNew();
        long sum = Enumerable.Range(0, n).PMap(x => x + 1, options).Sum();
        double pmap = clock.Elapsed.TotalMicroseconds / n;
        clock.Restart();
        for (int i = 0; i < n; i++)
        {
            int pid = Native.Fork();
            if (pid == 0)
            {
                Native.Exit(0);
            }
            Native.WaitPid(pid, out _, 0);
        }
        double bare = clock.Elapsed.TotalMicroseconds / n;
        if (sum != (long)n * (n + 1) / 2)
        {
            throw new InvalidOperationException("fork-phases: the map's results are wrong");
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"PMap ForkPerElement limit 1: {pmap:0} µs per element; bare fork loop: {bare:0} µs per fork; ratio {pmap / bare:0.00}"));
        return 0;
    }
}
