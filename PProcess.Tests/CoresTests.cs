using PProcess.Tests.Isolation;

namespace PProcess.Tests;

public class CoresTests
{
    private const string TwoSocketsHyperthreaded = """
        processor	: 0
        physical id	: 0
        core id		: 0

        processor	: 1
        physical id	: 0
        core id		: 1

        processor	: 2
        physical id	: 1
        core id		: 0

        processor	: 3
        physical id	: 1
        core id		: 1

        processor	: 4
        physical id	: 0
        core id		: 0

        processor	: 5
        physical id	: 0
        core id		: 1

        processor	: 6
        physical id	: 1
        core id		: 0

        processor	: 7
        physical id	: 1
        core id		: 1

        """;

    [Fact]
    public void TellsPhysicalCoresFromLogicalProcessors() =>
        Assert.Equal(new CpuTopology(8, 4, 2), Cores.Parse(TwoSocketsHyperthreaded));

    [Fact]
    public void WithoutPhysicalIdCoreIdsStillCount() =>
        Assert.Equal(new CpuTopology(4, 2, 1), Cores.Parse("processor : 0\ncore id : 0\n\nprocessor : 1\ncore id : 1\n\nprocessor : 2\ncore id : 0\n\nprocessor : 3\ncore id : 1\n"));

    [Fact]
    public void WithoutCoreIdsEveryProcessorIsACore() =>
        Assert.Equal(new CpuTopology(3, 3, 1), Cores.Parse("processor : 0\n\nprocessor : 1\n\nprocessor : 2\n"));

    [Fact]
    public void ThisMachineHasAtLeastOneCoreAndNoMoreCoresThanProcessors()
    {
        var machine = Cores.Topology;
        Assert.InRange(machine.PhysicalCores, 1, machine.LogicalProcessors);
        Assert.Equal(machine.LogicalProcessors, File.ReadAllLines("/proc/cpuinfo").Count(l => l.StartsWith("processor")));
    }

    [Fact]
    public void DefaultLimitFollowsTheAffinityMask()
    {
        // taskset -c 0 leaves one usable processor; the default exchange limit must follow it.
        var result = IsolatedProcess.Run(DefaultLimitScenario, null, null, "taskset", "-c", "0").AssertSucceeded();
        Assert.Contains("limit=1", result.Output);
    }

    private static void DefaultLimitScenario()
    {
        using var exchange = new Exchange();
        Assert.Equal(Cores.Usable, exchange.Limit);
        Console.WriteLine($"limit={exchange.Limit}");
    }
}
