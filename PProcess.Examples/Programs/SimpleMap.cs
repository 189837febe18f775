using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_map: sequential, Select over the sequence of cells (Python's map): the sequential twin of simple_pmap.</summary>
public static class SimpleMap
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.Cells().Select(cell => Table.Calculate(cell.I, cell.J, options.Delay)).ToList();
        Table.Print(results, clock);
    }
}
