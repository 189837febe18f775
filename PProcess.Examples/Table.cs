using System.Diagnostics;

namespace PProcess.Examples;

/// <summary>The calculation and the output layout of pprocess's 10x10 examples.</summary>
public static class Table
{
    /// <summary>pprocess's calculate(i, j): sleep for the delay, then i * N + j.</summary>
    public static int Calculate(int i, int j, TimeSpan delay)
    {
        Thread.Sleep(delay);
        return i * Options.N + j;
    }

    /// <summary>Prints the results N to a row, then "Time taken:".</summary>
    public static void Print(IReadOnlyList<int> results, Stopwatch clock)
    {
        for (int i = 0; i < Options.N; i++)
        {
            Console.WriteLine(string.Join(" ", results.Skip(i * Options.N).Take(Options.N)));
        }
        Console.WriteLine($"Time taken: {clock.Elapsed.TotalSeconds:F3}");
    }
}

/// <summary>The exchange of the 10x10 examples: each child sends (i, j, result), stored at i * N + j.</summary>
public sealed class TableExchange(int limit, int[] results) : Exchange(limit: limit)
{
    protected override void StoreData(Channel channel)
    {
        var (i, j, result) = channel.Receive<(int, int, int)>();
        results[i * Options.N + j] = result;
    }
}
