using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// simple_mutation: sequential; the table starts as 0..99 and the function doubles its cell in
/// place, so the table printed is 0, 2, ..., 198.
/// </summary>
public static class SimpleMutation
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Mutation.NewTable();
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) => Mutation.Calculate(results, i, j, options.Delay));
        Table.Print(results, clock);
    }
}

/// <summary>The table and the function of the mutation examples: it changes its argument instead of returning a result.</summary>
public static class Mutation
{
    /// <summary>pprocess's results = list(range(0, 100)).</summary>
    public static int[] NewTable() => Enumerable.Range(0, Options.N * Options.N).ToArray();

    /// <summary>pprocess's calculate(results, i, j): sleep for the delay, then results[i * N + j] *= 2. Returns the new value.</summary>
    public static int Calculate(int[] results, int i, int j, TimeSpan delay)
    {
        Thread.Sleep(delay);
        return results[i * Options.N + j] *= 2;
    }
}
