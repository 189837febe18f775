using System.Diagnostics;
using Mono.Unix.Native;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>The ASP.NET Core example: the list endpoint rendered through the worker pool equals the sequential rendering.</summary>
public class WebExampleTests
{
    private static string Assembly => Path.Combine(AppContext.BaseDirectory, "PProcess.WebExample.dll");

    [Fact]
    public async Task TheListEndpointRenderedThroughThePoolEqualsTheSequentialRendering()
    {
        using var server = Serve(rows: 150, cost: 3, out var stderr);
        try
        {
            var line = await Listening(server, stderr);
            var match = System.Text.RegularExpressions.Regex.Match(line, @"^listening on (http://127\.0\.0\.1:\d+) \(workers (\d+) (\d+)\)$");
            Assert.True(match.Success, line);
            int[] workers = [int.Parse(match.Groups[2].Value), int.Parse(match.Groups[3].Value)];
            using var http = new HttpClient { BaseAddress = new Uri(match.Groups[1].Value), Timeout = TimeSpan.FromMinutes(1) };

            using var pooled = await http.GetAsync("/users");
            using var sequential = await http.GetAsync("/users?pool=false");
            Assert.Equal("pool", pooled.Headers.GetValues("X-Rendered-By").Single());
            Assert.Equal("sequential", sequential.Headers.GetValues("X-Rendered-By").Single());
            string a = await pooled.Content.ReadAsStringAsync(), b = await sequential.Content.ReadAsStringAsync();
            Assert.Equal(b, a);
            Assert.Equal(150 + 1, a.Split("<tr>").Length - 1);                // a header and 150 rows, in id order
            Assert.Contains("<tr><td>0</td><td>user00000&lt;&amp;&gt;</td>", a);
            Assert.Contains("<tr><td>149</td>", a);
            Assert.True(a.IndexOf("<td>148</td>", StringComparison.Ordinal) < a.IndexOf("<td>149</td>", StringComparison.Ordinal));

            // SIGTERM: the host shuts down, the pool ends and reaps its workers, the database is removed.
            Assert.Equal(0, Syscall.kill(server.Id, Signum.SIGTERM));
            Assert.True(server.WaitForExit(TimeSpan.FromMinutes(1)), "the server did not stop on SIGTERM");
            Assert.Equal(0, server.ExitCode);
            Assert.All(workers, w => Assert.False(Directory.Exists($"/proc/{w}"), $"worker {w} outlived the server"));
            Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), $"pprocess-web-{server.Id}.db")));
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    // xfork's use (issue 20, "Busy servers"): request handlers that await forks while other requests
    // keep the server's thread pool busy. 16 concurrent requests, half rendered in awaited forks and
    // half through the pool, each page equal to the sequential one; then SIGTERM leaves no child.
    public async Task ConcurrentRequestsRenderedInAwaitedForksEqualTheSequentialRendering()
    {
        using var server = Serve(rows: 120, cost: 2, out var stderr);
        try
        {
            var line = await Listening(server, stderr);
            var match = System.Text.RegularExpressions.Regex.Match(line, @"^listening on (http://127\.0\.0\.1:\d+) ");
            Assert.True(match.Success, line);
            using var http = new HttpClient { BaseAddress = new Uri(match.Groups[1].Value), Timeout = TimeSpan.FromMinutes(3) };
            string expected = await http.GetStringAsync("/users?pool=false");
            var requests = Enumerable.Range(0, 16).Select(async i =>
            {
                using var response = await http.GetAsync(i % 2 == 0 ? "/users?via=fork" : "/users");
                Assert.True(response.IsSuccessStatusCode, $"request {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                return (By: response.Headers.GetValues("X-Rendered-By").Single(), Page: await response.Content.ReadAsStringAsync());
            }).ToArray();
            var pages = await Task.WhenAll(requests);
            Assert.Equal(8, pages.Count(p => p.By == "fork"));
            Assert.All(pages, p => Assert.Equal(expected, p.Page));
            Assert.Equal(120 + 1, expected.Split("<tr>").Length - 1);
            // The forked children are reaped once their results are in: the pool's two workers remain.
            Eventually.True(() => ProcFs.Children(server.Id).Length == 2, $"the server's children are its 2 workers, not {string.Join(", ", ProcFs.Children(server.Id))}");

            Assert.Equal(0, Syscall.kill(server.Id, Signum.SIGTERM));
            Assert.True(server.WaitForExit(TimeSpan.FromMinutes(1)), "the server did not stop on SIGTERM");
            Assert.Equal(0, server.ExitCode);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>Starts the example's server on a free port with 2 workers; its standard error is read into <paramref name="stderr"/>.</summary>
    private static Process Serve(int rows, int cost, out Task<string> stderr)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var arg in new[] { Assembly, "serve", "--urls", "http://127.0.0.1:0", "--rows", $"{rows}", "--cost", $"{cost}", "--workers", "2", "--stdin-lifetime" })
        {
            start.ArgumentList.Add(arg);
        }
        var server = Process.Start(start)!;
        stderr = server.StandardError.ReadToEndAsync();
        return server;
    }

    /// <summary>The server's first line, which names the address (port 0: the kernel picked a free one) and the workers.</summary>
    private static async Task<string> Listening(Process server, Task<string> stderr)
    {
        var line = await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1));
        if (line is null)
        {
            Assert.Fail("the server ended before listening: " + await stderr);
        }
        return line!;
    }

    [Fact]
    public void TheBenchmarkPrintsBothLatenciesSideBySide()
    {
        var start = new ProcessStartInfo("dotnet");
        foreach (var arg in new[] { Assembly, "bench", "--rows", "60", "--cost", "2", "--workers", "2", "--requests", "2" })
        {
            start.ArgumentList.Add(arg);
        }
        var output = ChildProcessRunner.Run(start, TimeSpan.FromMinutes(2), "", "web bench").AssertSucceeded().Output;
        Assert.Contains("same page both ways: True", output);
        Assert.Matches(@"(?m)^sequential\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d$", output);
        Assert.Matches(@"(?m)^pool\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d$", output);
        Assert.Matches(@"(?m)^sequential/pool \(median\): \d+\.\d\dx$", output);
    }
}
