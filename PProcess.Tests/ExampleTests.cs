using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>Every 10x10 example runs as a user would run it, and prints the table of i*N+j in pprocess's layout.</summary>
public class ExampleTests
{
    private static readonly string[] Table = Enumerable.Range(0, 10)
        .Select(i => string.Join(" ", Enumerable.Range(i * 10, 10)))
        .ToArray();

    [Theory]
    [InlineData("simple")]
    [InlineData("simple1")]
    [InlineData("simple2")]
    [InlineData("simple_map")]
    [InlineData("simple_pmap")]
    [InlineData("simple_pmap_iter")]
    [InlineData("simple_start")]
    [InlineData("simple_start_queue")]
    [InlineData("simple_create")]
    [InlineData("simple_create_map")]
    [InlineData("simple_create_queue")]
    [InlineData("simple_managed")]
    [InlineData("simple_managed_map")]
    [InlineData("simple_managed_queue")]
    [InlineData("simple_managed_map_reusable")]
    [InlineData("simple_continuous_queue")]
    [InlineData("simple_mutation")]
    [InlineData("ordered_pipeline")]
    public void PrintsTheTableAndTheTimeTaken(string example)
    {
        var lines = Lines(ExampleRunner.Passes(example, "--delay", "0.005", "--limit", "4"));
        Assert.Equal(11, lines.Length);
        Assert.Equal(Table, lines[..10]);
        Assert.Matches(@"^Time taken: \d+\.\d{3}$", lines[10]);
    }

    [Fact]
    public void MutationInChildrenLeavesTheParentsTableEmpty()
    {
        var lines = Lines(ExampleRunner.Passes("simple_mutation_queue", "--delay", "0.005", "--limit", "4"));
        Assert.Equal(Enumerable.Repeat(string.Join(" ", Enumerable.Repeat("0", 10)), 10), lines[..10]);
        Assert.Matches(@"^Time taken: ", lines[10]);
        Assert.Contains("returned 100 results", lines[11]);
    }

    [Fact]
    public void ListNamesEveryExample()
    {
        var output = ExampleRunner.Passes("list");
        foreach (var name in new[] { "simple_pmap", "simple_managed_map_reusable", "simple_continuous_queue", "simple_mutation_queue",
            "simple_persistent_managed", "simple_background_queue", "simple_persistent_queue", "ordered_pipeline", "pipeline_busy", "worker_pool", "fork_task" })
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

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
}
