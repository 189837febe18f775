using System.Globalization;
using PProcess;

namespace PProcess.Benchmarks;

/// <summary>
/// One workload in a loop, for a profiler to watch (docs/performance.md, "The exchange's own cost
/// per reused job"): <c>dotnet run --project PProcess.Benchmarks -c Release -- profile WORKLOAD [N] [socket|shm]</c>.
/// Workloads (<see cref="RoundTrips"/>): <c>job</c> (N reused jobs of a MakeReusable function
/// through a Map, limit 1), <c>channel</c> (N round trips of an int through a channel to an
/// echoing child). Prints µs and bytes allocated per round trip; the fork and a warm-up are
/// outside the timed loop. <c>PProcess.Benchmarks/profile.sh</c> runs it under perf.
/// </summary>
internal static class Profile
{
    /// <summary>
    /// With <c>PPROCESS_PERF_CONTROL</c> naming the control fifo of <c>perf record -D -1 --control fifo:FIFO</c>,
    /// turns recording on for the timed loop only, so that start-up and the fork stay out of the profile.
    /// </summary>
    private static void Perf(string command)
    {
        if (Environment.GetEnvironmentVariable("PPROCESS_PERF_CONTROL") is { Length: > 0 } fifo)
        {
            File.WriteAllText(fifo, command + "\n");
        }
    }

    internal static int Run(string[] args)
    {
        string workload = args.ElementAtOrDefault(0) ?? "job";
        int n = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200_000;
        var transport = args.ElementAtOrDefault(2) == "shm" ? ChannelTransportKind.SharedMemory : ChannelTransportKind.Socket;
        RoundTripFigures figures;
        switch (workload)
        {
            case "job":
                figures = RoundTrips.ReusedJobs(n, transport, Perf);
                break;
            case "channel":
                figures = RoundTrips.ChannelEchoes(n, transport, Perf);
                break;
            default:
                Console.Error.WriteLine($"profile: unknown workload '{workload}' (job, channel)");
                return 2;
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{workload} {transport}: {figures.Microseconds:0.00} µs per round trip ({n} round trips); allocated per round trip: " +
            $"parent {figures.ParentBytes:0} bytes ({figures.Gen0Collections} gen0 collections), child {figures.ChildBytes:0} bytes"));
        return 0;
    }
}
