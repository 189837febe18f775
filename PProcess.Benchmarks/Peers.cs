using System.Diagnostics;
using System.Globalization;

namespace PProcess.Benchmarks;

/// <summary>Runs the peers written in Python and C; each returns null, with a reason, where it cannot run.</summary>
internal static class Peers
{
    private static string Dir => Path.Combine(AppContext.BaseDirectory, "Peers");

    internal static (double? Value, string Note) PythonForkLoop(int n) => Parse(Run("python3", Path.Combine(Dir, "fork_loop.py"), n.ToString()));

    internal static (double? Value, string Note) PythonPoolMap(int n, int workers)
    {
        var (output, note) = Run("python3", Path.Combine(Dir, "pool_map.py"), n.ToString(), workers.ToString());
        if (output is null)
        {
            return (null, note);
        }
        var words = output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (double.Parse(words[0], CultureInfo.InvariantCulture), $"start method {words.ElementAtOrDefault(1)}");
    }

    internal static (double? Value, string Note) CPingPong(int n)
    {
        var binary = Path.Combine(Path.GetTempPath(), $"pprocess-pingpong-{Environment.ProcessId}");
        try
        {
            var (_, compileNote) = Run("gcc", "-O2", "-o", binary, Path.Combine(Dir, "pingpong.c"));
            if (!File.Exists(binary))
            {
                return (null, $"skipped: no C compiler ({compileNote})");
            }
            return Parse(Run(binary, n.ToString()));
        }
        finally
        {
            File.Delete(binary);
        }
    }

    private static (double? Value, string Note) Parse((string? Output, string Note) run) =>
        run.Output is null ? (null, run.Note) : (double.Parse(run.Output.Trim(), CultureInfo.InvariantCulture), run.Note);

    private static (string? Output, string Note) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(true);
                return (null, $"skipped: {program} took more than 5 minutes");
            }
            return process.ExitCode == 0
                ? (output.Result, "")
                : (null, $"skipped: {program} exited with {process.ExitCode}: {error.Result.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (null, $"skipped: {program} is not available ({e.Message})");
        }
    }
}
