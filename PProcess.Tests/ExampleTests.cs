using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Every 10x10 example runs as a user would run it and prints, line for line, what pprocess's
/// program of the same name prints (mortonne/pprocess, run with python3), apart from the time.
/// </summary>
public class ExampleTests
{
    /// <summary>pprocess's table: each result followed by a space, ten to a row.</summary>
    internal static string[] Table(Func<int, int> value) => Enumerable.Range(0, 10)
        .Select(i => string.Concat(Enumerable.Range(i * 10, 10).Select(k => $"{value(k)} ")))
        .ToArray();

    private static readonly string[] Calculating = ["Calculating..."];
    private static readonly string[] CalculatingFinishing = ["Calculating...", "Finishing..."];

    /// <summary>The lines before the table, as pprocess's program prints them.</summary>
    public static TheoryData<string, string[]> Examples => new()
    {
        { "simple", Calculating },
        { "simple1", Calculating },
        { "simple2", Calculating },
        { "simple_map", [] },
        { "simple_pmap", [] },
        { "simple_pmap_iter", [] },
        { "simple_start", CalculatingFinishing },
        { "simple_start_queue", ["Finishing..."] },
        { "simple_create", CalculatingFinishing },
        { "simple_create_map", Calculating },
        { "simple_create_queue", CalculatingFinishing },
        { "simple_managed", CalculatingFinishing },
        { "simple_managed_map", Calculating },
        { "simple_managed_queue", CalculatingFinishing },
        { "simple_managed_map_reusable", Calculating },
        { "simple_continuous_queue", CalculatingFinishing },
        { "ordered_pipeline", [] },
    };

    [Theory]
    [MemberData(nameof(Examples))]
    public void PrintsWhatPprocessPrints(string example, string[] before)
    {
        var lines = Lines(ExampleRunner.Passes(example, "--delay", "0.005", "--limit", "4"));
        Assert.Equal([.. before, .. Table(k => k)], lines[..^1]);
        Assert.Matches(@"^Time taken: \d+\.\d{3}$", lines[^1]);
    }

    [Fact]
    public void MutationDoublesTheTableInPlace()
    {
        var lines = Lines(ExampleRunner.Passes("simple_mutation", "--delay", "0.005"));
        Assert.Equal([.. Calculating, .. Table(k => 2 * k)], lines[..^1]);
        Assert.Matches(@"^Time taken: ", lines[^1]);
    }

    [Fact]
    public void MutationInChildrenLeavesTheParentsTableAsItWas()
    {
        var lines = Lines(ExampleRunner.Passes("simple_mutation_queue", "--delay", "0.005", "--limit", "4"));
        Assert.Equal([.. Calculating, .. Table(k => k)], lines[..^1]);
        Assert.Matches(@"^Time taken: ", lines[^1]);
    }

    [Fact]
    public void TheProgressBarExampleMapsEveryElement()
    {
        // Not a terminal here: Spectre.Console draws no bar, and the summary follows the map.
        var lines = Lines(ExampleRunner.Passes("pmap_progress", "--count", "300", "--ms", "1", "--limit", "2"));
        Assert.Matches(@"^300 elements in \d+\.\d\d s, checksum 44850$", lines[^1]);
    }

    [Fact]
    public void ListNamesEveryExample()
    {
        var output = ExampleRunner.Passes("list");
        foreach (var name in new[] { "simple_pmap", "simple_managed_map_reusable", "simple_continuous_queue", "simple_mutation_queue",
            "simple_persistent_managed", "simple_background_queue", "simple_persistent_queue", "ordered_pipeline", "pipeline_busy", "worker_pool", "fork_task", "pmap_progress", "pmap_chunks" })
        {
            Assert.Contains(name, output);
        }
    }

    [Fact]
    public void AnUnknownExampleOrABadLimitIsAClearError()
    {
        var unknown = ExampleRunner.Run(TimeSpan.FromMinutes(1), "no_such_example");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no example named 'no_such_example'", unknown.Error);
        var limit = ExampleRunner.Run(TimeSpan.FromMinutes(1), "simple_pmap", "--limit", "0");
        Assert.Equal(2, limit.ExitCode);
        Assert.Contains("--limit", limit.Error);
    }

    /// <summary>The output's lines, exactly (trailing spaces kept).</summary>
    internal static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
