using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_mutation_queue: the same function run in children. Each child writes into its own
/// copy of the table (copy-on-write), so the parent's table stays all zeros: results must be
/// sent back, not written into shared data.
/// </summary>
public static class SimpleMutationQueue
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.NewResults();
        using var queue = new ResultQueue<int>(limit: options.Limit);
        var calculate = queue.Manage(Exchange.MakeParallel((int i, int j) => Mutation.Calculate(results, i, j, options.Delay)));
        Table.ForEachCell(calculate);
        int received = queue.Count();
        Table.Print(results, clock);
        Console.WriteLine($"The children returned {received} results, but their changes to the table stayed in their own memory.");
    }
}
