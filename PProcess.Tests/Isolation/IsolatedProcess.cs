using System.Diagnostics;
using System.Reflection;

namespace PProcess.Tests.Isolation;

/// <summary>What a scenario process did.</summary>
public sealed record IsolatedResult(int ExitCode, string Output, string Error)
{
    /// <summary>Fails the test with everything the scenario printed unless it exited 0.</summary>
    public IsolatedResult AssertSucceeded()
    {
        Assert.True(ExitCode == 0, $"scenario exited with {ExitCode}\n--- stdout ---\n{Output}\n--- stderr ---\n{Error}");
        return this;
    }
}

/// <summary>
/// Runs a test scenario in a fresh process of this test assembly. The xunit host has many
/// threads that may run managed code at any moment, and forking there breaks rule 3 of
/// docs/fork-safety.md; a scenario process has one thread of its own, so it is the quiescent
/// process the rules ask for. The scenario is a static method; it passes by returning, and
/// fails by throwing (xunit's Assert works there as anywhere).
/// </summary>
public static class IsolatedProcess
{
    private const string Flag = "--scenario";

    /// <summary>
    /// The dotnet host that runs scenarios: the SDK's (on PATH), or the one that `.ci/runtimes.sh`
    /// laid out for another runtime (PPROCESS_TEST_DOTNET), so that the fork-safety battery forks
    /// on that runtime while the test host stays on the SDK's.
    /// </summary>
    public static string Host { get; } = Environment.GetEnvironmentVariable("PPROCESS_TEST_DOTNET") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>The runtime version the scenarios must run on (PPROCESS_TEST_RUNTIME, set by `.ci/runtimes.sh`), or null for the SDK's.</summary>
    public static string? RequestedRuntime { get; } = Environment.GetEnvironmentVariable("PPROCESS_TEST_RUNTIME") is { Length: > 0 } version ? version : null;

    /// <summary>Runs <paramref name="scenario"/> in a new process and returns how it went.</summary>
    public static IsolatedResult Run(Action scenario, IDictionary<string, string>? environment = null, TimeSpan? timeout = null,
        params string[] wrapper)
    {
        var method = scenario.Method;
        if (!method.IsStatic || scenario.Target is not null)
        {
            throw new ArgumentException("A scenario must be a static method (a method group, not a lambda).", nameof(scenario));
        }
        var assembly = typeof(IsolatedProcess).Assembly.Location;
        var start = new ProcessStartInfo(wrapper.Length > 0 ? wrapper[0] : Host);
        if (wrapper.Length > 0)
        {
            foreach (var word in wrapper[1..])
            {
                start.ArgumentList.Add(word);
            }
            start.ArgumentList.Add(Host);
        }
        if (Host != "dotnet")
        {
            // The laid-out root has one runtime, of another major version perhaps: this net10.0 assembly rolls forward to it.
            start.Environment["DOTNET_ROLL_FORWARD"] = "Major";
        }
        start.ArgumentList.Add(assembly);
        start.ArgumentList.Add(Flag);
        start.ArgumentList.Add(method.DeclaringType!.FullName!);
        start.ArgumentList.Add(method.Name);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        return ChildProcessRunner.Run(start, timeout ?? TimeSpan.FromMinutes(2), null, $"scenario {method.Name}");
    }

    /// <summary>Runs the scenario and fails the test unless it succeeded.</summary>
    public static IsolatedResult Passes(Action scenario, IDictionary<string, string>? environment = null) =>
        Run(scenario, environment).AssertSucceeded();

    private const string SnippetFlag = "--snippet";

    /// <summary>
    /// Runs the program compiled at <paramref name="assemblyPath"/> (a documentation block) in a new
    /// process of this assembly, which has the fork-safe runtime settings and resolves PProcess and
    /// its native dependencies, with <paramref name="workingDirectory"/> as its current directory.
    /// </summary>
    public static IsolatedResult RunProgram(string assemblyPath, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory };
        start.ArgumentList.Add(typeof(IsolatedProcess).Assembly.Location);
        start.ArgumentList.Add(SnippetFlag);
        start.ArgumentList.Add(assemblyPath);
        return ChildProcessRunner.Run(start, timeout, "", $"program {assemblyPath}");
    }

    /// <summary>The entry point of a scenario process.</summary>
    public static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == SnippetFlag)
        {
            return RunSnippet(args[1]);
        }
        if (args.Length != 3 || args[0] != Flag)
        {
            Console.Error.WriteLine($"usage: PProcess.Tests {Flag} TYPE METHOD (run the tests with dotnet test)");
            return 2;
        }
        var type = typeof(IsolatedProcess).Assembly.GetType(args[1], throwOnError: true)!;
        var method = type.GetMethod(args[2], BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            ?? throw new MissingMethodException(args[1], args[2]);
        TransportScenarios.ApplyFromEnvironment();
        try
        {
            method.Invoke(null, null);
        }
        catch (TargetInvocationException e)
        {
            Console.Error.WriteLine(e.InnerException);
            return 1;
        }
        Console.Out.Flush();
        return 0;
    }

    /// <summary>Loads a compiled program and calls its entry point, as the host would have.</summary>
    private static int RunSnippet(string path)
    {
        var entry = Assembly.LoadFrom(path).EntryPoint ?? throw new MissingMethodException(path, "Main");
        object? result;
        try
        {
            result = entry.Invoke(null, entry.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            if (result is Task task)
            {
                task.GetAwaiter().GetResult();
                result = task is Task<int> withCode ? withCode.Result : null;
            }
        }
        catch (TargetInvocationException e)
        {
            Console.Error.WriteLine(e.InnerException);
            return 1;
        }
        Console.Out.Flush();
        return result is int code ? code : 0;
    }
}
