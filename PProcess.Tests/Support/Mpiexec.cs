using System.Diagnostics;
using PProcess.Tests.Isolation;

namespace PProcess.Tests.Support;

/// <summary>MPICH's launcher, where it is installed: the MPI tests run their scenarios under it.</summary>
public static class Mpiexec
{
    /// <summary>The launcher on PATH: Debian's mpiexec.mpich (MPICH next to another MPI), else mpiexec; null when neither is there.</summary>
    public static readonly string? Path = Find("mpiexec.mpich") ?? Find("mpiexec");

    /// <summary>Why the MPI tests are skipped here, or null when they run.</summary>
    public static string? SkipReason => Path is null
        ? "mpiexec (MPICH) is not on PATH: install it (apt-get install mpich; .ci/run does) to run the tests across MPI ranks"
        : null;

    /// <summary>Runs a scenario of this test assembly on <paramref name="ranks"/> ranks (mpiexec passes <paramref name="environment"/> on to them); the result is mpiexec's.</summary>
    public static IsolatedResult RunScenario(Action scenario, int ranks = 2, TimeSpan? timeout = null, IDictionary<string, string>? environment = null) =>
        IsolatedProcess.Run(scenario, environment, timeout, Path!, "-n", ranks.ToString());

    /// <summary>Runs <c>mpiexec -n RANKS dotnet PProcess.Examples.dll args...</c>.</summary>
    public static IsolatedResult RunExample(int ranks, params string[] args)
    {
        var start = new ProcessStartInfo(Path!);
        foreach (var word in (string[])["-n", ranks.ToString(), "dotnet", System.IO.Path.Combine(AppContext.BaseDirectory, "PProcess.Examples.dll"), .. args])
        {
            start.ArgumentList.Add(word);
        }
        return ChildProcessRunner.Run(start, TimeSpan.FromMinutes(2), "", $"mpiexec -n {ranks} example '{string.Join(' ', args)}'");
    }

    private static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => System.IO.Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);
}

/// <summary>A fact that needs MPICH's mpiexec: skipped, with the reason shown, on a machine without it.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (Mpiexec.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}
