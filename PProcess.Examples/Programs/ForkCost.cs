using System.Diagnostics;
using System.Runtime;

namespace PProcess.Examples.Programs;

/// <summary>
/// fork_cost: measures, in one run, a Fork.Start round trip (fork, child sends an int, parent
/// receives and reaps), and how many methods a child compiles before it can send. The figures
/// behind docs/fork-safety.md.
/// </summary>
public static class ForkCost
{
    public static void Run(Options options)
    {
        int count = options.Rest.Count > 0 ? int.Parse(options.Rest[0]) : 500;
        // "jit": each child calls a method the parent never ran, so every child compiles code.
        bool childCompiles = options.Rest.Contains("jit");
        var first = Stopwatch.StartNew();
        using (var warm = Fork.Start(c => c.Send(0)))
        {
            warm.Receive<int>();
        }
        Console.WriteLine($"first fork (compiles the child path in the parent): {first.Elapsed.TotalMilliseconds:F1} ms");

        if (options.Rest.Contains("pool"))
        {
            ComparePool(count);
            return;
        }

        long jitted = 0;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            long before = JitInfo.GetCompiledMethodCount();
            using var channel = childCompiles
                ? Fork.Start(c => c.Send(ChildOnly() + JitInfo.GetCompiledMethodCount()))
                : Fork.Start(c => c.Send(JitInfo.GetCompiledMethodCount()));
            jitted += channel.Receive<long>() - before;
            channel.Wait();
        }
        Console.WriteLine($"{(childCompiles ? "with a method compiled in each child, " : "")}Fork.Start round trip: {clock.Elapsed.TotalMilliseconds * 1000 / count:F0} us over {count} forks; " +
                          $"methods compiled per child before sending: {(double)jitted / count:F2}");
    }

    /// <summary>
    /// "pool": round trips before and after the parent starts its thread pool, in one run (each
    /// child repairs its copy of the pool either way: docs/fork-safety.md rule 4).
    /// </summary>
    private static void ComparePool(int count)
    {
        double RoundTrip()
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < count; i++)
            {
                using var channel = Fork.Start(c => c.Send(0));
                channel.Receive<int>();
                channel.Wait();
            }
            return clock.Elapsed.TotalMilliseconds * 1000 / count;
        }
        double before = RoundTrip();
        Task.Run(() => 0).Wait();
        double after = RoundTrip();
        Console.WriteLine($"Fork.Start round trip over {count} forks: {before:F0} us before the parent used the thread pool, " +
                          $"{after:F0} us after: ratio {after / before:F2}");
    }

    /// <summary>Never called in the parent: each child compiles it.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static long ChildOnly() => DateTime.Now.Ticks & 0;
}
