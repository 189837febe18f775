using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace PProcess.Tests.Docs;

/// <summary>
/// Compiles a documentation block as a console program would be, in-process with Roslyn: top-level
/// statements, the implicit usings of a console project, nullable on, warnings as errors, against
/// the shared framework and the PProcess assembly that the tests run against.
/// </summary>
public static class SnippetCompiler
{
    /// <summary>The global usings of an SDK console project with ImplicitUsings enabled.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        // The shared framework's assemblies (those next to System.Private.CoreLib), PProcess and its
        // companion assemblies (PProcess.Mpi, PProcess.MemoryPack), as a user of them references them.
        var framework = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => Path.GetDirectoryName(path) == framework)
            .Append(typeof(Exchange).Assembly.Location)
            .Append(typeof(PProcess.Mpi.MpiWorld).Assembly.Location)
            .Append(typeof(PProcess.Serialization.MemoryPackChannelSerializer).Assembly.Location)
            .Append(typeof(global::MemoryPack.MemoryPackSerializer).Assembly.Location)
            // Logging across the fork: the companion and the Microsoft.Extensions.Logging assemblies a program using it references.
            .Append(typeof(PProcess.Extensions.Logging.ForkedChildrenLoggerFactory).Assembly.Location)
            .Append(typeof(Microsoft.Extensions.Logging.ILogger).Assembly.Location)
            .Append(typeof(Microsoft.Extensions.Logging.LoggerFactory).Assembly.Location)
            .Append(typeof(Microsoft.Extensions.Logging.ConsoleLoggerExtensions).Assembly.Location)
            .Append(typeof(Microsoft.Extensions.DependencyInjection.IServiceCollection).Assembly.Location)
            .Append(typeof(Microsoft.Extensions.Options.IOptions<>).Assembly.Location)
            .Distinct();
        return [.. paths.Select(path => MetadataReference.CreateFromFile(path))];
    });

    /// <summary>The syntax errors of <paramref name="code"/>, if any.</summary>
    public static IReadOnlyList<string> ParseErrors(string code) =>
        [.. CSharpSyntaxTree.ParseText(code, ParseOptions).GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .Select(d => d.ToString())];

    /// <summary>Compiles <paramref name="block"/> to an assembly at <paramref name="output"/>; returns the errors and warnings (empty on success).</summary>
    public static IReadOnlyList<string> Compile(CodeBlock block, string output)
    {
        var compilation = CSharpCompilation.Create(
            "DocSnippet",
            [
                CSharpSyntaxTree.ParseText(block.Code, ParseOptions, path: block.Document),
                CSharpSyntaxTree.ParseText(ImplicitUsings, ParseOptions, path: "ImplicitUsings.cs"),
            ],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication,
                nullableContextOptions: NullableContextOptions.Enable,
                generalDiagnosticOption: ReportDiagnostic.Error));
        using var stream = File.Create(output);
        var result = compilation.Emit(stream);
        return [.. result.Diagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning || d.IsWarningAsError)
            // Line numbers of the document, not of the block.
            .Select(d => $"{block.Document}:{block.Line + d.Location.GetLineSpan().StartLinePosition.Line + 1}: {d.Id} {d.GetMessage()}")];
    }
}
