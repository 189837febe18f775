using System.Net;
using System.Net.Sockets;

namespace PProcess.Examples.Programs;

/// <summary>
/// child_threads: which threads a process has after it used the thread pool, a timer, async
/// sockets and Process, and which a child forked from it has, at its start and after it used the
/// same things itself (docs/fork-safety.md, "The runtime's threads in a child").
/// </summary>
public static class ChildThreads
{
    public static void Run(Options options)
    {
        Use();
        Console.WriteLine($"parent:              {Threads()}");
        var child = new[] { 0 }.PMap(_ =>
        {
            string atStart = Threads();
            Use();
            return $"child at its start:  {atStart}\nchild after use:     {Threads()}";
        }, limit: 1).Single();
        Console.WriteLine(child);
    }

    /// <summary>The thread pool (and a blocking burst), a timer, an async socket round trip, a process.</summary>
    private static void Use()
    {
        Task.WaitAll([.. Enumerable.Range(0, 4).Select(_ => Task.Run(() => Thread.Sleep(20)))]);
        using var ticked = new ManualResetEventSlim();
        using (new Timer(_ => ticked.Set(), null, 5, Timeout.Infinite))
        {
            ticked.Wait();
        }
        Echo().GetAwaiter().GetResult();
        using var process = System.Diagnostics.Process.Start("/bin/true")!;
        process.WaitForExit();
    }

    private static async Task Echo()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepting = listener.AcceptTcpClientAsync();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var server = await accepting;
        await client.GetStream().WriteAsync(new byte[] { 1 });
        await server.GetStream().ReadExactlyAsync(new byte[1]);
    }

    /// <summary>The names of this process's threads, counted ("3 x .NET TP Worker").</summary>
    private static string Threads() => string.Join(", ", Directory.EnumerateDirectories("/proc/self/task")
        .Select(task => File.ReadAllText(task + "/comm").Trim())
        .GroupBy(name => name).OrderBy(g => g.Key, StringComparer.Ordinal)
        .Select(g => g.Count() > 1 ? $"{g.Count()} x {g.Key}" : g.Key));
}
