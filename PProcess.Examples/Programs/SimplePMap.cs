using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_pmap: PMap over the sequence of cells, printed a row (a slice of N results) at a time.</summary>
public static class SimplePMap
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.Cells().PMap(cell => Table.Calculate(cell.I, cell.J, options.Delay), limit: options.Limit);
        foreach (var row in results.Chunk(Options.N))
        {
            Console.WriteLine(Table.Row(row));
        }
        Table.PrintTime(clock);
    }
}
