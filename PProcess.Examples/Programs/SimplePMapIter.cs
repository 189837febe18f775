using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_pmap_iter: PMap's results printed one by one as the iteration yields them, in order.</summary>
public static class SimplePMapIter
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        int k = 0;
        foreach (var result in Table.Cells().PMap(cell => Table.Calculate(cell.I, cell.J, options.Delay), limit: options.Limit))
        {
            Console.Write($"{result} ");
            if (++k % Options.N == 0)
            {
                Console.WriteLine();
            }
        }
        Table.PrintTime(clock);
    }
}
