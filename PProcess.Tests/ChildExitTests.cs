using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Every way a child can leave is reported at once, with its exit code, and no timeout configured
/// (docs/reliability.md): Environment.Exit, a return from Main in a Create child, an unhandled
/// exception on another thread. None of them deletes the parent's diagnostic endpoints.
/// </summary>
public class ChildExitTests
{
    [Fact]
    public void EnvironmentExitInAPMapJobRaisesChildExitedWithItsCode() => IsolatedProcess.Passes(EnvironmentExitScenario);

    private static void EnvironmentExitScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        var error = Assert.Throws<ChildExitedException>(() => Enumerable.Range(0, 3).PMap(i =>
        {
            if (i == 1)
            {
                Environment.Exit(3);
            }
            return i;
        }, limit: 3).ToList());
        Assert.Equal(3, error.ExitCode);
        Assert.Contains("exited with code 3", error.Message);
        Assert.Contains(error.Pid.ToString(), error.Message);
        Assert.True(ProcFs.NoChildrenLeft());

        // Exit(0) is no result either.
        var clean = Assert.Throws<ChildExitedException>(() => new[] { 0 }.PMap(i => { Environment.Exit(0); return i; }, limit: 1).ToList());
        Assert.Equal(0, clean.ExitCode);
        Assert.Contains("without sending a result", clean.Message);
    }

    [Fact]
    public void ACreateChildThatReturnsFromMainEndsWithMainsExitCode() => IsolatedProcess.Passes(ReturnFromMainScenario);

    [Fact]
    public void ACreateChildThatReturnsFromAVoidMainEndsWithCodeZero() => IsolatedProcess.Passes(ReturnFromVoidMainScenario);

    /// <summary>
    /// A void, async Task or top-level Main records no exit code when it returns: the runtime makes
    /// the main thread a background thread (RunMainPost) and starts its shutdown, which waits for
    /// ever in a child. The scenario does the same as the runtime there: background, then a wait.
    /// (Checked with a real top-level program too: docs/fork-safety.md, rule 6.)
    /// </summary>
    private static void ReturnFromVoidMainScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        Assert.False(Thread.CurrentThread.IsBackground);
        using var channel = Fork.Create();
        if (channel.IsChild)
        {
            Thread.CurrentThread.IsBackground = true;
            Thread.Sleep(Timeout.Infinite);
        }
        var error = Assert.Throws<ChildExitedException>(() => channel.Receive());
        Assert.Equal(0, error.ExitCode);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static bool inCreatedChild;

    /// <summary>
    /// The scenario runs as the body of the scenario process's Main: the child returns from it
    /// (Main then returns 0), or throws (Main catches it and returns 1).
    /// </summary>
    private static void ReturnFromMainScenario()
    {
        Assert.Equal(1, Task.Run(() => 1).Result);
        foreach (bool fail in new[] { false, true })
        {
            var channel = Fork.Create();
            if (channel.IsChild)
            {
                inCreatedChild = true;
                if (fail)
                {
                    throw new InvalidOperationException("the created child fails");
                }
                return; // to Main, which returns 0: the runtime's shutdown would wait for ever here
            }
            using (channel)
            {
                var error = Assert.Throws<ChildExitedException>(() => channel.Receive());
                Assert.Equal(fail ? 1 : 0, error.ExitCode);
            }
        }
        Assert.False(inCreatedChild);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AnUnhandledExceptionOnAnotherThreadOfAChildIsReportedWithItsCode() => IsolatedProcess.Passes(OtherThreadScenario);

    private static void OtherThreadScenario()
    {
        var error = Assert.Throws<ChildExitedException>(() => new[] { 0 }.PMap(i =>
        {
            new Thread(() => throw new InvalidOperationException("a worker thread of the child failed")).Start();
            Thread.Sleep(Timeout.Infinite);
            return i;
        }, limit: 1).ToList());
        Assert.Equal(70, error.ExitCode);
        Assert.Contains("an exception escaped the child's code", error.Message);
        Assert.Contains("a worker thread of the child failed", error.Message); // its standard error, relayed
    }

    [Fact]
    public void ChildrenThatExitOrFailFastLeaveTheParentsDiagnosticEndpoints() => IsolatedProcess.Passes(DiagnosticEndpointsScenario);

    private static string[] DiagnosticEndpoints() =>
        Directory.GetFiles(Path.GetTempPath(), $"*-{Environment.ProcessId}-*").Select(Path.GetFileName).Order().ToArray()!;

    private static void DiagnosticEndpointsScenario()
    {
        var before = DiagnosticEndpoints();
        Assert.Contains(before, name => name.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal));
        Assert.Throws<ChildExitedException>(() => new[] { 0 }.PMap(i => { Environment.Exit(0); return i; }, limit: 1).ToList());
        Assert.Equal(before, DiagnosticEndpoints());
        var failFast = Assert.Throws<ChildExitedException>(() => new[] { 0 }.PMap(i => { Environment.FailFast("a child gives up"); return i; }, limit: 1).ToList());
        Assert.Equal("SIGABRT", failFast.Status.SignalName);
        // Explained by what the runtime wrote, not by a guess about forking.
        Assert.Contains("Process terminated. a child gives up", failFast.Message);
        Assert.DoesNotContain("rule 3", failFast.Message);
        Assert.Equal(before, DiagnosticEndpoints());
    }

    [Fact]
    public void AChildCanStartAProcessAndWaitForItsExit() => IsolatedProcess.Passes(ProcessInChildScenario);

    private static void ProcessInChildScenario()
    {
        // The parent has used Process (so its SIGCHLD machinery runs on a thread of the parent only).
        using (var own = System.Diagnostics.Process.Start("/bin/sh", ["-c", "exit 2"]))
        {
            own.WaitForExit();
            Assert.Equal(2, own.ExitCode);
        }
        var codes = Enumerable.Range(3, 2).PMap(code =>
        {
            using var started = System.Diagnostics.Process.Start("/bin/sh", ["-c", $"exit {code}"]);
            return started.WaitForExit(TimeSpan.FromSeconds(30)) ? started.ExitCode : -1;
        }, limit: 2).ToList();
        Assert.Equal([3, 4], codes);
    }
}
