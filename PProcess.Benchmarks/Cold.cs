using System.Diagnostics;
using System.Globalization;

namespace PProcess.Benchmarks;

/// <summary>
/// A user's first PMap: <c>PProcess.Benchmarks cold N</c> runs one PMap with default options over N
/// trivial elements in this new process, whose first fork pays the library's one-time preparation
/// (docs/fork-safety.md, rule 9), and prints the seconds from the call to the last result.
/// Section 7 runs it as a process of its own (<see cref="Peers.ColdPMap"/>).
/// </summary>
internal static class Cold
{
    internal static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var items = Enumerable.Range(0, n).ToArray();
        var clock = Stopwatch.StartNew();
        long sum = items.PMap(x => x + 1).Sum(x => (long)x);
        double seconds = clock.Elapsed.TotalSeconds;
        if (sum != (long)n * (n + 1) / 2)
        {
            Console.Error.WriteLine("cold: PMap's results are wrong");
            return 1;
        }
        Console.WriteLine(seconds.ToString(CultureInfo.InvariantCulture));
        return 0;
    }
}
