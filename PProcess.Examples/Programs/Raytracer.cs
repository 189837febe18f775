using System.Diagnostics;
using PProcess.Examples.Raytracer;

namespace PProcess.Examples.Programs;

/// <summary>
/// raytracer: pprocess's PyGmy example. Renders the 300x200 scene one row at a time in the way
/// --variant names and writes it as a PNG (--output, default raytracer.png).
/// </summary>
public static class Raytracer
{
    public const string DefaultVariant = "sequential";
    public const string DefaultOutput = "raytracer.png";

    /// <summary>The variants <see cref="Render"/> knows, for the usage and the error on an unknown one.</summary>
    public static readonly IReadOnlyList<string> Variants = ["sequential"];

    public static void Run(Options options)
    {
        var (variant, output) = ParseArguments(options.Rest);
        var clock = Stopwatch.StartNew();
        var rows = Render(variant, options);
        Png.Write(output, Renderer.Width, Renderer.Height, rows);
        Console.WriteLine($"Rendered {Renderer.Width}x{Renderer.Height} ({variant}) to {output}");
        Console.WriteLine($"Time taken: {clock.Elapsed.TotalSeconds:F3}");
    }

    /// <summary>
    /// The image's rows, top first, rendered the way <paramref name="variant"/> says. A new variant
    /// is an arm here that returns the rows (each <see cref="Renderer.RenderRow"/>'s bytes), and its
    /// name in <see cref="Variants"/>.
    /// </summary>
    private static byte[][] Render(string variant, Options options) => variant switch
    {
        "sequential" => Renderer.RenderSequential(),
        _ => throw UnknownVariant(variant),
    };

    private static ArgumentException UnknownVariant(string variant) =>
        new($"raytracer: no variant named '{variant}'; the variants are: {string.Join(", ", Variants)}.");

    private static (string Variant, string Output) ParseArguments(IReadOnlyList<string> rest)
    {
        string variant = DefaultVariant;
        string output = DefaultOutput;
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
                default:
                    throw new ArgumentException(
                        $"raytracer: unexpected argument '{rest[i]}'; usage: raytracer [--variant {string.Join("|", Variants)}] [--output PATH] [--limit N]");
            }
        }
        return (variant, output);
    }
}
