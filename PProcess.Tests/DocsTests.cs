using PProcess.Tests.Docs;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>
/// Every C# block of README.md, the package's readme (PProcess/README.md) and docs/*.md is a
/// program that compiles (warnings as errors) and runs to completion in a quiescent process, or
/// is marked <c>```csharp fragment</c> and at least parses.
/// </summary>
public class DocsTests
{
    /// <summary>README.md, the package's readme, and every document in docs/.</summary>
    private static IEnumerable<string> Documents() =>
        new[] { "README.md", "PProcess/README.md" }.Concat(
            Directory.GetFiles(Path.Combine(Repository.Root, "docs"), "*.md").Order(StringComparer.Ordinal)
                .Select(path => Path.GetRelativePath(Repository.Root, path)));

    private static IEnumerable<CodeBlock> Blocks() => Documents().SelectMany(document => CodeBlock.Read(Repository.Root, document));

    public static TheoryData<string> Programs => [.. Blocks().Where(b => !b.IsFragment).Select(b => b.Name)];

    public static TheoryData<string> Fragments => [.. Blocks().Where(b => b.IsFragment).Select(b => b.Name)];

    private static CodeBlock Find(string name) => Blocks().Single(b => b.Name == name);

    [Theory]
    [MemberData(nameof(Programs))]
    public void ProgramCompilesAndRuns(string name)
    {
        var block = Find(name);
        var directory = Directory.CreateTempSubdirectory("pprocess-doc-");
        try
        {
            var assembly = Path.Combine(directory.FullName, "DocSnippet.dll");
            var errors = SnippetCompiler.Compile(block, assembly);
            Assert.True(errors.Count == 0, $"{name} does not compile:\n{string.Join('\n', errors)}");
            IsolatedProcess.RunProgram(assembly, directory.FullName, TimeSpan.FromMinutes(1)).AssertSucceeded();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Fragments))]
    public void FragmentParses(string name)
    {
        var errors = SnippetCompiler.ParseErrors(Find(name).Code);
        Assert.True(errors.Count == 0, $"{name} does not parse:\n{string.Join('\n', errors)}");
    }

    [Fact]
    public void CiRunsTheReadmesTestCommandExactlyAndItsExample()
    {
        // The README starts with its two commands: an example, then the tests.
        var readme = File.ReadAllLines(Path.Combine(Repository.Root, "README.md"));
        int fence = Array.IndexOf(readme, "```sh");
        Assert.True(fence is > 0 and < 5, "README.md does not start with its commands");
        var (example, tests) = (readme[fence + 1], readme[fence + 2]);
        Assert.Equal("dotnet test PProcess.sln", tests);
        var ci = File.ReadAllLines(Path.Combine(Repository.Root, ".ci/run")).Select(line => line.Trim()).ToList();
        Assert.Contains(tests, ci);
        // The example as in the README, with a shorter delay.
        var withoutDelay = example[..example.IndexOf(" --delay", StringComparison.Ordinal)];
        Assert.Contains(ci, line => line.StartsWith(withoutDelay + " --delay", StringComparison.Ordinal));
    }

    [Fact]
    public void TheDocumentsHaveRunnablePrograms()
    {
        // A marker typo must not turn every block into something unchecked.
        Assert.Contains(Blocks(), b => b.Document == "README.md" && !b.IsFragment);
        Assert.True(Blocks().Count(b => b.Document == "docs/tutorial.md" && !b.IsFragment) >= 5);
    }
}
