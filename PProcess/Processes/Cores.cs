namespace PProcess;

/// <summary>What /proc/cpuinfo says about the machine's processors.</summary>
/// <param name="LogicalProcessors">Hardware threads ("processor" entries).</param>
/// <param name="PhysicalCores">Distinct (physical id, core id) pairs: cores, not hyperthreads.</param>
/// <param name="Packages">Distinct physical ids: sockets.</param>
public readonly record struct CpuTopology(int LogicalProcessors, int PhysicalCores, int Packages);

/// <summary>Counting processors: pprocess's <c>get_number_of_cores</c>, and the default limit.</summary>
public static class Cores
{
    private static readonly Lazy<CpuTopology> Machine = new(() => Parse(ReadCpuInfo()));

    /// <summary>The machine's topology from /proc/cpuinfo.</summary>
    public static CpuTopology Topology => Machine.Value;

    /// <summary>The number of physical cores (hyperthreads not counted), as pprocess's get_number_of_cores.</summary>
    public static int GetNumberOfCores() => Topology.PhysicalCores;

    /// <summary>
    /// The processors this process may use: <see cref="Environment.ProcessorCount"/>, which on Linux
    /// already honours the CPU affinity mask (taskset) and a cgroup CPU quota (a container's --cpus),
    /// and DOTNET_PROCESSOR_COUNT. The default limit of an exchange and of PMap.
    /// </summary>
    public static int Usable => Environment.ProcessorCount;

    /// <summary>Parses the text of /proc/cpuinfo.</summary>
    internal static CpuTopology Parse(string cpuinfo)
    {
        ArgumentNullException.ThrowIfNull(cpuinfo);
        int logical = 0;
        var cores = new HashSet<(string, string)>();
        var packages = new HashSet<string>();
        string? physical = null, core = null;

        void EndBlock()
        {
            if (core is not null)
            {
                cores.Add((physical ?? "0", core));
            }
            if (physical is not null)
            {
                packages.Add(physical);
            }
            physical = core = null;
        }

        foreach (var raw in cpuinfo.Split('\n'))
        {
            int colon = raw.IndexOf(':');
            if (colon < 0)
            {
                if (raw.Trim().Length == 0)
                {
                    EndBlock();
                }
                continue;
            }
            var key = raw[..colon].Trim();
            var value = raw[(colon + 1)..].Trim();
            switch (key)
            {
                case "processor":
                    EndBlock();
                    logical++;
                    break;
                case "physical id":
                    physical = value;
                    break;
                case "core id":
                    core = value;
                    break;
            }
        }
        EndBlock();
        logical = Math.Max(logical, 1);
        // Without "core id" lines (some virtual machines and architectures), every processor is a core.
        int physicalCores = cores.Count == 0 ? logical : cores.Count;
        return new CpuTopology(logical, physicalCores, Math.Max(packages.Count, 1));
    }

    private static string ReadCpuInfo()
    {
        try
        {
            return File.ReadAllText("/proc/cpuinfo");
        }
        catch (IOException)
        {
            return "";
        }
    }
}
