using System.Diagnostics;
using PProcess.Examples.Raytracer;
using PProcess.Mpi;

namespace PProcess.Examples.Programs;

/// <summary>
/// raytracer: pprocess's PyGmy example. Renders the 300x200 scene one job per row in the way
/// --variant names (an Exchange with StoreData, a ResultQueue, PMap, a Map of reusable
/// children, or sequentially) and writes it as a PNG (--output, default raytracer.png). With
/// --mpi, under mpiexec, the rows are dealt across the ranks and rank 0 writes the PNG (docs/scaling.md).
/// </summary>
public static class Raytracer
{
    public const string DefaultVariant = "pmap";
    public const string DefaultOutput = "raytracer.png";

    /// <summary>The variants <see cref="Render"/> knows, for the usage and the error on an unknown one.</summary>
    public static readonly IReadOnlyList<string> Variants = ["exchange", "queue", "pmap", "reuse", "sequential"];

    public static void Run(Options options)
    {
        var (variant, output, acrossRanks) = ParseArguments(options.Rest);
        var clock = Stopwatch.StartNew();
        var rows = acrossRanks ? RenderAcrossRanks(options.Limit) : Render(variant, options);
        if (rows is null)
        {
            return; // A rank other than 0: its rows went to rank 0.
        }
        Png.Write(output, Renderer.Width, Renderer.Height, rows);
        Console.WriteLine($"Rendered {Renderer.Width}x{Renderer.Height} ({(acrossRanks ? $"pmap across {MpiWorld.Size} ranks" : variant)}) to {output}");
        Console.WriteLine($"Time taken: {clock.Elapsed.TotalSeconds:F3}");
    }

    /// <summary>
    /// The image's rows, top first, rendered the way <paramref name="variant"/> says. A new variant
    /// is an arm here that returns the rows (each <see cref="Renderer.RenderRow"/>'s bytes), and its
    /// name in <see cref="Variants"/>.
    /// </summary>
    private static byte[][] Render(string variant, Options options)
    {
        if (!Variants.Contains(variant))
        {
            throw UnknownVariant(variant);
        }
        // Runs the scene's static constructor and compiles the tracer here, once, instead of in
        // every child (docs/fork-safety.md, rule 9).
        Renderer.RenderRow(0);
        return variant switch
        {
            "exchange" => WithExchange(options.Limit),
            "queue" => WithQueue(options.Limit),
            "pmap" => Enumerable.Range(0, Renderer.Height).PMap(Renderer.RenderRow, limit: options.Limit).ToArray(),
            "reuse" => WithReusableChildren(options.Limit),
            _ => Renderer.RenderSequential(),
        };
    }

    /// <summary>
    /// --mpi: PMap across the ranks of an MPI job (one rank, on this machine, outside a launcher).
    /// Every rank builds the same scene; rank 0 gets the rows, the others null.
    /// </summary>
    private static byte[][]? RenderAcrossRanks(int limit)
    {
        Renderer.RenderRow(0);
        var rows = Enumerable.Range(0, Renderer.Height).ToArray().PMapAcrossRanks(Renderer.RenderRow, new MpiPMapOptions { Limit = limit });
        return rows.HasResults ? rows.ToArray() : null;
    }

    /// <summary>pprocess's first variant: Exchange.Start with a parallel-aware function and StoreData.</summary>
    private static byte[][] WithExchange(int limit)
    {
        var rows = new byte[Renderer.Height][];
        using var exchange = new RowExchange(limit, rows);
        for (int y = 0; y < Renderer.Height; y++)
        {
            exchange.Start(static (channel, y) => channel.Send((y, Renderer.RenderRow(y))), y);
        }
        exchange.Finish();
        return rows;
    }

    private sealed class RowExchange(int limit, byte[][] rows) : Exchange(limit: limit)
    {
        protected override void StoreData(Channel channel)
        {
            var (y, row) = channel.Receive<(int, byte[])>();
            rows[y] = row;
        }
    }

    /// <summary>A ResultQueue of (y, row), taken in arrival order.</summary>
    private static byte[][] WithQueue(int limit)
    {
        var rows = new byte[Renderer.Height][];
        using var queue = new ResultQueue<(int Y, byte[] Row)>(limit: limit);
        var render = queue.Manage(Exchange.MakeParallel((int y) => (y, Renderer.RenderRow(y))));
        for (int y = 0; y < Renderer.Height; y++)
        {
            render(y);
        }
        foreach (var (y, row) in queue)
        {
            rows[y] = row;
        }
        return rows;
    }

    /// <summary>A Map with reuse: --limit children render every row, receiving row numbers over their channels.</summary>
    private static byte[][] WithReusableChildren(int limit)
    {
        using var rows = new Map<byte[]>(new ExchangeOptions { Limit = limit, Reuse = true });
        var render = rows.Manage(Exchange.MakeReusable((int y) => Renderer.RenderRow(y)));
        for (int y = 0; y < Renderer.Height; y++)
        {
            render(y);
        }
        return rows.ToArray();
    }

    private static ArgumentException UnknownVariant(string variant) =>
        new($"raytracer: no variant named '{variant}'; the variants are: {string.Join(", ", Variants)}.");

    private static (string Variant, string Output, bool AcrossRanks) ParseArguments(IReadOnlyList<string> rest)
    {
        string variant = DefaultVariant;
        string output = DefaultOutput;
        bool acrossRanks = false;
        for (int i = 0; i < rest.Count; i++)
        {
            switch (rest[i])
            {
                case "--variant" when i + 1 < rest.Count:
                    variant = rest[++i];
                    break;
                case "--output" when i + 1 < rest.Count:
                    output = rest[++i];
                    break;
                case "--mpi":
                    acrossRanks = true;
                    break;
                default:
                    throw new ArgumentException(
                        $"raytracer: unexpected argument '{rest[i]}'; usage: raytracer [--variant {string.Join("|", Variants)}] [--output PATH] [--limit N] [--mpi]");
            }
        }
        return (variant, output, acrossRanks);
    }
}
