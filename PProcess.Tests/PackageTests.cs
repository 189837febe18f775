using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>
/// The library as a package consumer gets it: packed with <c>dotnet pack</c> from a copy of its
/// sources, put in a local feed, and referenced by a new console app (restored from that feed
/// and the public one into a package folder of its own) that runs a PMap.
/// </summary>
public class PackageTests
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public void ANewConsoleAppRunsPMapFromThePackedPackageWithTheForkSafeSettings()
    {
        var work = Directory.CreateTempSubdirectory("pprocess-package-");
        try
        {
            // 1. Pack a copy of the library's sources, so that nothing in the working tree changes.
            var source = Path.Combine(work.FullName, "src");
            CopySources(Path.Combine(Repository.Root, "PProcess"), Path.Combine(source, "PProcess"));
            foreach (var file in new[] { "Directory.Build.props", "nuget.config" })
            {
                File.Copy(Path.Combine(Repository.Root, file), Path.Combine(source, file));
            }
            var feed = Path.Combine(work.FullName, "feed");
            Dotnet(source, "pack", "PProcess/PProcess.csproj", "-c", "Release", "-o", feed);
            var package = Assert.Single(Directory.GetFiles(feed, "PProcess.*.nupkg"));
            var version = Path.GetFileNameWithoutExtension(package)["PProcess.".Length..];

            using (var zip = ZipFile.OpenRead(package))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
                Assert.Contains("README.md", entries);
                Assert.Contains("buildTransitive/PProcess.targets", entries);
                Assert.Contains("build/PProcess.targets", entries);
                Assert.Contains("lib/net10.0/PProcess.dll", entries);
                Assert.Contains("lib/net10.0/PProcess.xml", entries);
                using var nuspec = new StreamReader(zip.GetEntry("PProcess.nuspec")!.Open());
                Assert.Contains("<readme>README.md</readme>", nuspec.ReadToEnd());
            }

            // The logging companion packs beside it: its assembly and documentation, depending on
            // PProcess and Microsoft.Extensions.Logging, as a consumer's restore will read it.
            CopySources(Path.Combine(Repository.Root, "PProcess.Extensions.Logging"), Path.Combine(source, "PProcess.Extensions.Logging"));
            Dotnet(source, "pack", "PProcess.Extensions.Logging/PProcess.Extensions.Logging.csproj", "-c", "Release", "-o", feed);
            var logging = Assert.Single(Directory.GetFiles(feed, "PProcess.Extensions.Logging.*.nupkg"));
            using (var zip = ZipFile.OpenRead(logging))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToHashSet();
                Assert.Contains("lib/net10.0/PProcess.Extensions.Logging.dll", entries);
                Assert.Contains("lib/net10.0/PProcess.Extensions.Logging.xml", entries);
                using var nuspec = new StreamReader(zip.GetEntry("PProcess.Extensions.Logging.nuspec")!.Open());
                var text = nuspec.ReadToEnd();
                Assert.Contains($"<dependency id=\"PProcess\" version=\"{version}\"", text);
                Assert.Contains("<dependency id=\"Microsoft.Extensions.Logging\"", text);
            }

            // 2. A new console app outside the repository (no Directory.Build.* of ours applies).
            var app = Path.Combine(work.FullName, "app");
            Directory.CreateDirectory(app);
            File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <!-- As a web app's SDK does: the package must say that it replaces this. -->
                    <ServerGarbageCollection>true</ServerGarbageCollection>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="PProcess" Version="{version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using PProcess;

                foreach (var (value, pid) in Enumerable.Range(1, 6).PMap(k => (k * k, Environment.ProcessId), limit: 3))
                    Console.WriteLine($"{value} {(pid == Environment.ProcessId ? "parent" : "child")}");
                """);
            // Its own package folder: the package is extracted from the feed, not taken from a cache.
            var packages = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(work.FullName, "packages") };
            var build = Dotnet(app, packages, "build", "-c", "Release");
            Assert.Contains("warning PPROC001", build);
            Assert.DoesNotContain("PPROC002", build);

            // 3. It runs: six results in order, each computed in a child.
            var output = Dotnet(app, packages, "bin/Release/net10.0/app.dll");
            Assert.Equal(["1 child", "4 child", "9 child", "16 child", "25 child", "36 child"],
                output.Split('\n', StringSplitOptions.RemoveEmptyEntries));

            // 4. The package's build targets gave it the fork-safe settings.
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(app, "bin/Release/net10.0/app.runtimeconfig.json")));
            var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
            foreach (var setting in new[] { "System.Runtime.EnableWriteXorExecute", "System.GC.Server", "System.GC.Concurrent" })
            {
                Assert.True(properties.TryGetProperty(setting, out var value), $"{setting} is not in the consumer's runtimeconfig.json:\n{properties}");
                Assert.Equal(JsonValueKind.False, value.ValueKind);
            }
            // Tiered compilation and dynamic PGO stay as the runtime has them (fork-safety rule 8).
            Assert.False(properties.TryGetProperty("System.Runtime.TieredCompilation", out _), $"the package set tiered compilation:\n{properties}");
            Assert.False(properties.TryGetProperty("System.Runtime.TieredPGO", out _), $"the package set dynamic PGO:\n{properties}");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>The library's sources: everything but build output.</summary>
    private static void CopySources(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
        foreach (var dir in Directory.GetDirectories(from))
        {
            if (Path.GetFileName(dir) is not ("bin" or "obj"))
            {
                CopySources(dir, Path.Combine(to, Path.GetFileName(dir)));
            }
        }
    }

    private static string Dotnet(string directory, params string[] args) => Dotnet(directory, new Dictionary<string, string>(), args);

    /// <summary>Runs dotnet with <paramref name="args"/> in <paramref name="directory"/>; fails the test with its output unless it exits 0.</summary>
    private static string Dotnet(string directory, IDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Not the settings of the build that runs this test (dotnet test sets MSBuild variables).
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(key);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        var result = ChildProcessRunner.Run(start, BuildTimeout, "", $"dotnet {string.Join(' ', args)}");
        Assert.True(result.ExitCode == 0,
            $"dotnet {string.Join(' ', args)} exited with {result.ExitCode}\n--- stdout ---\n{result.Output}\n--- stderr ---\n{result.Error}");
        return result.Output;
    }
}
