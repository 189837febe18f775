using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_mutation_queue: the same function run in children. Each child doubles a cell of its
/// own copy of the table (copy-on-write), so the parent's table is printed as it was, 0..99:
/// results must be sent back, not written into shared data. pprocess prints the table without
/// waiting for the children; this waits for them first (the output is the same), so that the
/// unchanged table is shown after every child has made its change.
/// </summary>
public static class SimpleMutationQueue
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var queue = new ResultQueue<int>(limit: options.Limit);
        var calculate = queue.Manage(Exchange.MakeParallel((int[] results, int i, int j) => Mutation.Calculate(results, i, j, options.Delay)));
        var results = Mutation.NewTable();
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) => calculate(results, i, j));
        foreach (var _ in queue)
        {
            // Every child has doubled its copy of a cell.
        }
        Table.Print(results, clock);
    }
}
