using Mono.Unix.Native;
using PProcess.Processes;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>The one reader of /proc/PID/stat, which the library and these tests share.</summary>
public class ProcStatTests
{
    [Fact]
    public void FieldsAreCountedFromTheLastParenthesisOfTheName()
    {
        // A command name may hold spaces and parentheses: "a) (b" must not shift the fields.
        var line = "4242 (a) (b) S 17 4242 99 0 -1 4194560 10 0 0 0 7 5 0 0 20 0 3 0 123456 1000 200 18446744073709551615\n"u8;
        var stat = ProcStat.Parse(line) ?? throw new Xunit.Sdk.XunitException("not parsed");
        Assert.Equal("a) (b", stat.Name);
        Assert.Equal('S', stat.State);
        Assert.Equal(17, stat.ParentPid);
        Assert.Equal(99, stat.Session);
        Assert.Equal(0, stat.Terminal);
        Assert.Equal(12, stat.CpuTicks);
        Assert.Equal(3, stat.Threads);
        Assert.Equal(123456, stat.StartTime);
        Assert.False(stat.HasEnded);
    }

    [Fact]
    public void ATruncatedOrForeignLineIsNotAStat()
    {
        Assert.Null(ProcStat.Parse("4242 (x) S 1 2 3"u8));
        Assert.Null(ProcStat.Parse("no parenthesis here"u8));
    }

    [Fact]
    public void ThisProcessReadsAsRunningWithItsParentAndThreads()
    {
        var stat = ProcStat.Of(Environment.ProcessId) ?? throw new Xunit.Sdk.XunitException("not read");
        // The process's state is its main thread's; this thread's own line says it runs (it is reading it).
        var thread = ProcStat.Read($"/proc/self/task/{ProcFs.ThreadId()}/stat", new byte[ProcStat.BufferSize]);
        Assert.Equal('R', thread?.State);
        Assert.Equal(Syscall.getppid(), stat.ParentPid);
        Assert.InRange(stat.Threads, 2, 10_000); // a .NET process has its runtime's threads too
        Assert.True(stat.StartTime > 0);
        Assert.Null(ProcStat.Of(int.MaxValue)); // no such process
    }
}
