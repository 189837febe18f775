using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_mutation: sequential; the function writes its result into the shared table, and the table is filled.</summary>
public static class SimpleMutation
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        var results = Table.NewResults();
        Table.ForEachCell((i, j) => Mutation.Calculate(results, i, j, options.Delay));
        Table.Print(results, clock);
    }
}

/// <summary>The function of the mutation examples: it changes its argument instead of returning a result.</summary>
public static class Mutation
{
    public static int Calculate(int[] results, int i, int j, TimeSpan delay) =>
        results[i * Options.N + j] = Table.Calculate(i, j, delay);
}
