using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>simple_create_map: Map.Create, the work inline in the child; rows printed as slices of the Map.</summary>
public static class SimpleCreateMap
{
    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var results = new Map<int>(limit: options.Limit);
        Console.WriteLine("Calculating...");
        Table.ForEachCell((i, j) =>
        {
            var channel = results.Create();
            if (channel is not null)
            {
                // In the child.
                channel.Send(Table.Calculate(i, j, options.Delay));
                Fork.Exit(channel);
            }
        });
        Table.PrintRows(i => results[(i * Options.N)..((i + 1) * Options.N)], clock);
    }
}
