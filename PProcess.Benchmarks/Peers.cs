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

    /// <summary>
    /// multiprocessing.Pool(workers).map over n elements with its automatic chunksize, the pool's
    /// start included; each element x + 1 (itemMicroseconds 0) or the calibrated loop of Work.cs.
    /// Seconds.
    /// </summary>
    internal static (double? Value, string Note) PythonPoolMapAuto(int n, double itemMicroseconds, int workers)
    {
        var (output, note) = Run("python3", Path.Combine(Dir, "pool_map_auto.py"), n.ToString(CultureInfo.InvariantCulture),
            itemMicroseconds.ToString(CultureInfo.InvariantCulture), workers.ToString(CultureInfo.InvariantCulture));
        if (output is null)
        {
            return (null, note);
        }
        var words = output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (double.Parse(words[0], CultureInfo.InvariantCulture), $"chunksize {words.ElementAtOrDefault(1)?.Trim()}, start method {words.ElementAtOrDefault(2)?.Trim()}");
    }

    /// <summary>
    /// A user's first PMap (<see cref="Cold"/>): this benchmark run again as a new process, one PMap
    /// with default options over n trivial elements, the first fork's one-time preparation included. Seconds.
    /// </summary>
    internal static (double? Value, string Note) ColdPMap(int n)
    {
        var (output, note) = Run(Environment.ProcessPath ?? "dotnet", Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet"
            ? [typeof(Cold).Assembly.Location, "cold", n.ToString(CultureInfo.InvariantCulture)]
            : ["cold", n.ToString(CultureInfo.InvariantCulture)]);
        return output is null ? (null, note) : (double.Parse(output, CultureInfo.InvariantCulture), "a new process: its first fork's preparation included");
    }

    /// <summary>
    /// A .NET baseline in a process of its own with the runtime's default settings
    /// (PProcess.Benchmarks.Baselines, copied into baselines/ beside this benchmark): the seconds of
    /// one timed run after an untimed one, checked against <paramref name="expected"/> when given;
    /// for "steady" and "webstart", the milliseconds it prints.
    /// </summary>
    internal static (double? Value, string Note) Baseline(long? expected, params object[] args) =>
        RunBaselines(Path.Combine("baselines", "PProcess.Benchmarks.Baselines.dll"), null, expected, args);

    /// <summary>
    /// The same program as <see cref="Baseline"/> with the package's settings (PProcess.Benchmarks.WithPackage,
    /// in withpackage/): what referencing PProcess costs a program that does not fork.
    /// </summary>
    internal static (double? Value, string Note) WithPackage(params object[] args) =>
        RunBaselines(Path.Combine("withpackage", "PProcess.Benchmarks.WithPackage.dll"), null, null, args);

    /// <summary>The baselines' web app as a web app runs: server GC, as the Web SDK sets it.</summary>
    internal static (double? Value, string Note) BaselineWebApp() =>
        RunBaselines(Path.Combine("baselines", "PProcess.Benchmarks.Baselines.dll"), "1", null, ["webstart"]);

    private static (double? Value, string Note) RunBaselines(string relative, string? serverGc, long? expected, object[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, relative);
        if (!File.Exists(dll))
        {
            return (null, $"skipped: {dll} is missing (build PProcess.Benchmarks, which builds it)");
        }
        var (output, note) = Run("dotnet", serverGc is null ? null : new Dictionary<string, string> { ["DOTNET_gcServer"] = serverGc },
            [dll, .. args.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!)]);
        if (output is null)
        {
            return (null, note);
        }
        var words = output.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (expected is { } sum && long.Parse(words[1], CultureInfo.InvariantCulture) != sum)
        {
            throw new InvalidOperationException($"the baseline {string.Join(' ', args)} computed a different result");
        }
        return (double.Parse(words[0], CultureInfo.InvariantCulture), "own process, runtime defaults");
    }

    /// <summary>Where the pprocess port is looked for, and cloned to when it is absent (never part of this repository).</summary>
    internal static string PprocessDirectory =>
        Environment.GetEnvironmentVariable("PPROCESS_PYTHON") is { Length: > 0 } dir ? dir : Path.Combine(Path.GetTempPath(), "pprocess-python");

    /// <summary>
    /// pprocess's pmap (github.com/mortonne/pprocess, a Python 3 port; a fork per element) over n
    /// elements of the calibrated loop of Work.cs, with <paramref name="limit"/> processes. The port
    /// is read from <see cref="PprocessDirectory"/>; when it is absent, a clone is tried there, and
    /// the row is skipped with a message if that fails. Seconds.
    /// </summary>
    internal static (double? Value, string Note) PprocessPmap(int n, double itemMilliseconds, int limit)
    {
        var dir = PprocessDirectory;
        if (!File.Exists(Path.Combine(dir, "pprocess.py")))
        {
            var (_, cloneNote) = Run("git", "clone", "--quiet", "--depth", "1", "https://github.com/mortonne/pprocess", dir);
            if (!File.Exists(Path.Combine(dir, "pprocess.py")))
            {
                return (null, $"skipped: pprocess (github.com/mortonne/pprocess) is not in {dir} and could not be cloned there " +
                    $"({(cloneNote.Length > 0 ? cloneNote : "no pprocess.py after the clone")}); clone it there, or set PPROCESS_PYTHON to its directory");
            }
        }
        return Parse(Run("python3", Path.Combine(Dir, "pprocess_pmap.py"), dir, n.ToString(CultureInfo.InvariantCulture),
            itemMilliseconds.ToString(CultureInfo.InvariantCulture), limit.ToString(CultureInfo.InvariantCulture)));
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

    /// <summary>Where the benchmark's own Python environment is made for the peers that need a package (mpire).</summary>
    private static string Venv => Path.Combine(Path.GetTempPath(), "pprocess-bench-venv");

    /// <summary>
    /// Runs a Python peer script. Mode "mpire" (the first argument) runs it in a virtual environment
    /// this benchmark makes, after <c>pip install mpire</c> there; when that fails (no package index
    /// reachable), the row is skipped with pip's reason.
    /// </summary>
    internal static (string? Output, string Note) RunPython(string script, params string[] args)
    {
        string python = "python3";
        if (args.Length > 0 && args[0] == "mpire")
        {
            python = Path.Combine(Venv, "bin", "python");
            if (Run(python, "-c", "import mpire").Output is null)
            {
                var (_, venvNote) = Run("python3", "-m", "venv", Venv);
                var (installed, pipNote) = Run(Path.Combine(Venv, "bin", "pip"), "install", "--quiet", "--timeout", "10", "--retries", "0", "mpire");
                if (installed is null)
                {
                    string why = (pipNote.Length > 0 ? pipNote : venvNote).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
                    return (null, $"skipped: pip could not install mpire into {Venv} ({why.Trim()})");
                }
            }
        }
        return Run(python, [script, .. args]);
    }

    private static (double? Value, string Note) Parse((string? Output, string Note) run) =>
        run.Output is null ? (null, run.Note) : (double.Parse(run.Output.Trim(), CultureInfo.InvariantCulture), run.Note);

    private static (string? Output, string Note) Run(string program, params string[] args) => Run(program, null, args);

    private static (string? Output, string Note) Run(string program, IDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
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
