using System.Runtime.InteropServices;
using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>Children that fail: each surfaces as a clear exception naming the child, its status and its job.</summary>
public partial class FailureTests
{
    [Fact]
    public void ChildKilledBySigkillIsReportedWithItsPidSignalAndJob() => IsolatedProcess.Passes(SigkillScenario);

    private static void SleepingJob(Channel channel, string name)
    {
        channel.Send("ready");
        Thread.Sleep(TimeSpan.FromMinutes(5));
    }

    private static void SigkillScenario()
    {
        using var exchange = new Collecting(limit: 2);
        exchange.Start(SleepingJob, "victim");
        var channel = Assert.Single(exchange.Active());
        Assert.Equal("ready", channel.Receive<string>());
        Syscall.kill(channel.Pid, Signum.SIGKILL);
        var error = Assert.Throws<ChildExitedException>(() => exchange.Finish());
        Assert.Equal(9, error.Signal);
        Assert.Equal(channel.Pid, error.Pid);
        Assert.Contains("SIGKILL", error.Message);
        Assert.Contains(channel.Pid.ToString(), error.Message);
        Assert.Contains("SleepingJob", error.Message);
        Assert.Contains("victim", error.Job);
        Assert.False(exchange.Unfinished());
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [LibraryImport("libc", EntryPoint = "strlen")]
    private static partial nuint StrLen(nint s);

    [LibraryImport("libc", EntryPoint = "abort")]
    private static partial void Abort();

    private static void SegfaultingJob(Channel channel) => channel.Send((long)StrLen(0));

    [Fact]
    public void ChildThatSegfaultsInNativeCodeIsReported() => IsolatedProcess.Passes(SegfaultScenario);

    private static void SegfaultScenario()
    {
        using var exchange = new Collecting(limit: 2);
        exchange.Start(c => c.Send("fine"));
        exchange.Start(SegfaultingJob);
        var error = Assert.Throws<ChildExitedException>(() => exchange.Finish());
        Assert.Equal(11, error.Signal);
        Assert.Contains("SIGSEGV", error.Message);
        Assert.Contains("SegfaultingJob", error.Message);
        Assert.Contains(error.Pid.ToString(), error.Message);
        exchange.Finish();
        Assert.Equal(["fine"], exchange.Results);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildThatExitsWithoutSendingOrWithACodeIsReported() => IsolatedProcess.Passes(SilentExitScenario);

    private static void SilentExitScenario()
    {
        using var exchange = new Collecting(limit: 4);
        exchange.Start(c => { });
        exchange.Start(c => Fork.Exit(c, 3));
        var errors = new List<ChildExitedException>();
        while (exchange.Unfinished())
        {
            try
            {
                exchange.Finish();
            }
            catch (ChildExitedException e)
            {
                errors.Add(e);
            }
        }
        Assert.True(errors.Count == 2, string.Join("\n", errors.Select(e => e.Message)));
        Assert.Contains(errors, e => e.ExitCode == 0 && e.Message.Contains("without sending a result"));
        Assert.Contains(errors, e => e.ExitCode == 3 && e.Message.Contains("exited with code 3"));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ChildThatAbortsBeforeSendingPointsAtForkSafetyRule3() => IsolatedProcess.Passes(AbortScenario);

    private static void AbortScenario()
    {
        // abort(3), as the runtime calls it when a child finds the runtime in a state it cannot handle.
        using var channel = Fork.Start(c => Abort());
        var error = Assert.Throws<ChildExitedException>(() => channel.Receive());
        Assert.True(error.Signal == 6, error.Message);
        Assert.Contains("SIGABRT", error.Message);
        Assert.Contains("rule 3", error.Message);
    }

    [Fact]
    public void ChildThatClosesItsChannelButKeepsRunningIsKilledNotWaitedFor() => IsolatedProcess.Passes(ClosedButRunningScenario);

    private static void ClosedButRunningScenario()
    {
        Channel.ExitGrace = TimeSpan.FromMilliseconds(300);
        using var exchange = new Collecting(limit: 1);
        exchange.Start(c =>
        {
            c.Close();
            Thread.Sleep(TimeSpan.FromMinutes(5));
        });
        var error = Assert.Throws<ChildExitedException>(() => exchange.Finish());
        Assert.Equal(9, error.Signal);
        Assert.Contains("closed its channel but had not exited", error.Message);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ExchangeLimitMustBePositive()
    {
        // No fork here: argument checks run in the test host.
        Assert.Throws<ArgumentOutOfRangeException>(() => new Exchange(limit: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Exchange(limit: -3));
        using var exchange = new Exchange(limit: 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => exchange.Limit = 0);
        Assert.Equal(2, exchange.Limit);
    }

    [Fact]
    public void DefaultStoreDataExplainsWhatToOverride() => IsolatedProcess.Passes(DefaultStoreDataScenario);

    private static void DefaultStoreDataScenario()
    {
        using var exchange = new Exchange(limit: 1);
        exchange.Start(c => c.Send(1));
        var error = Assert.Throws<InvalidOperationException>(() => exchange.Finish());
        Assert.Contains("override StoreData", error.Message);
    }
}
