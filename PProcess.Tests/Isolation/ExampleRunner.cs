using System.Diagnostics;

namespace PProcess.Tests.Isolation;

/// <summary>Runs an example program of PProcess.Examples as its own process, as a user would.</summary>
public static class ExampleRunner
{
    /// <summary>The examples' assembly, copied next to the tests by the project reference.</summary>
    private static string Assembly => Path.Combine(AppContext.BaseDirectory, "PProcess.Examples.dll");

    /// <summary>Runs <c>PProcess.Examples args...</c> and returns its exit code and output; fails the test on a hang.</summary>
    public static IsolatedResult Run(TimeSpan timeout, params string[] args) => RunWithInput(timeout, null, args);

    /// <summary>Like <see cref="Run(TimeSpan, string[])"/>, with standard input.</summary>
    public static IsolatedResult RunWithInput(TimeSpan timeout, string? input, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet");
        start.ArgumentList.Add(Assembly);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Standard input is always redirected (empty without input), so that no example reads the test host's.
        return ChildProcessRunner.Run(start, timeout, input ?? "", $"example '{string.Join(' ', args)}'");
    }

    /// <summary>Runs an example and fails the test unless it exited 0.</summary>
    public static string Passes(params string[] args) => Run(TimeSpan.FromMinutes(2), args).AssertSucceeded().Output;
}
