using System.Diagnostics;

namespace PProcess.Tests.Isolation;

/// <summary>Starts a process, feeds its standard input, collects its output, and fails the test if it hangs.</summary>
public static class ChildProcessRunner
{
    public static IsolatedResult Run(ProcessStartInfo start, TimeSpan timeout, string? input, string what)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.RedirectStandardInput = input is not null;
        start.UseShellExecute = false;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{what} did not end within {timeout}: a hang.\n--- stdout ---\n{output.Result}\n--- stderr ---\n{error.Result}");
        }
        process.WaitForExit();
        return new IsolatedResult(process.ExitCode, output.Result, error.Result);
    }
}
