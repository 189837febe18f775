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

    /// <summary>The variant of calculate that says which cell it computed: (i, j, i * N + j).</summary>
    public static (int I, int J, int Result) CalculateCell(int i, int j, TimeSpan delay) => (i, j, Calculate(i, j, delay));

    /// <summary>Calls <paramref name="action"/> for every cell, row by row: pprocess's two nested loops.</summary>
    public static void ForEachCell(Action<int, int> action)
    {
        for (int i = 0; i < Options.N; i++)
        {
            for (int j = 0; j < Options.N; j++)
            {
                action(i, j);
            }
        }
    }

    /// <summary>Every cell as (i, j), row by row: pprocess's "sequence".</summary>
    public static IEnumerable<(int I, int J)> Cells() =>
        Enumerable.Range(0, Options.N * Options.N).Select(k => (k / Options.N, k % Options.N));

    /// <summary>A table to fill by cell, as the examples that receive (i, j, result) do.</summary>
    public static int[] NewResults() => new int[Options.N * Options.N];

    /// <summary>Stores (i, j, result) at i * N + j.</summary>
    public static void Store(int[] results, (int I, int J, int Result) cell) => results[cell.I * Options.N + cell.J] = cell.Result;

    /// <summary>One row as pprocess prints it: each result followed by a space (print(result, end=' ')).</summary>
    public static string Row(IEnumerable<int> row) => string.Concat(row.Select(result => $"{result} "));

    /// <summary>Prints the results N to a row, then "Time taken:".</summary>
    public static void Print(IReadOnlyList<int> results, Stopwatch clock) =>
        PrintRows(i => results.Skip(i * Options.N).Take(Options.N), clock);

    /// <summary>Prints row i as given by <paramref name="row"/> (a slice of a Map, say), then "Time taken:".</summary>
    public static void PrintRows(Func<int, IEnumerable<int>> row, Stopwatch clock)
    {
        for (int i = 0; i < Options.N; i++)
        {
            Console.WriteLine(Row(row(i)));
        }
        PrintTime(clock);
    }

    /// <summary>The last line of every 10x10 example.</summary>
    public static void PrintTime(Stopwatch clock) => Console.WriteLine($"Time taken: {clock.Elapsed.TotalSeconds:F3}");
}

/// <summary>The exchange of the 10x10 examples: each child sends (i, j, result), stored at i * N + j.</summary>
public sealed class TableExchange(int limit, int[] results) : Exchange(limit: limit)
{
    protected override void StoreData(Channel channel) => Table.Store(results, channel.Receive<(int, int, int)>());
}
