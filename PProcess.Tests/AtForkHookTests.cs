using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Fork.RegisterAtFork, as Python's os.register_at_fork: before each fork (newest first), after it
/// in the parent and in the child (in order of registration), the child's hooks before its job;
/// a hook's failure is reported, never lost.
/// </summary>
public class AtForkHookTests
{
    private static readonly List<string> ParentLog = [];
    private static string childLog = "";

    [Fact]
    public void HooksRunAroundEachForkInPythonsOrderAndTheChildsBeforeItsJob() => IsolatedProcess.Passes(OrderScenario);

    private static void OrderScenario()
    {
        using (Fork.RegisterAtFork(before: () => ParentLog.Add("before 1"), afterInParent: () => ParentLog.Add("parent 1"),
            afterInChild: () => childLog += "child 1;"))
        using (Fork.RegisterAtFork(before: () => ParentLog.Add("before 2"), afterInParent: () => ParentLog.Add("parent 2"),
            afterInChild: () => childLog += "child 2;"))
        {
            using var channel = Fork.Start(c => c.Send(childLog + $"pid {Environment.ProcessId}"));
            var seen = channel.Receive<string>();
            Assert.Equal($"child 1;child 2;pid {channel.Pid}", seen);
            Assert.Equal(["before 2", "before 1", "parent 1", "parent 2"], ParentLog);
            Assert.Equal("", childLog); // the parent's own copy is untouched

            // Every fork of the library runs them: each PMap child too.
            ParentLog.Clear();
            var logs = Enumerable.Range(0, 4).PMap(_ => childLog, new PMapOptions { Limit = 2, Mode = PMapMode.ForkPerElement }).ToList();
            Assert.All(logs, log => Assert.Equal("child 1;child 2;", log));
            Assert.Equal(4 * 4, ParentLog.Count);
        }
        // Disposed: no longer run.
        ParentLog.Clear();
        using (var after = Fork.Start(c => c.Send(childLog)))
        {
            Assert.Equal("", after.Receive<string>());
        }
        Assert.Empty(ParentLog);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AFailingHookFailsTheForkOrEndsTheChildWithTheExceptionQuoted() => IsolatedProcess.Passes(FailureScenario);

    private static void FailureScenario()
    {
        // In the child: the child ends with code 70, and the parent's error quotes the hook's exception.
        using (Fork.RegisterAtFork(afterInChild: static () => throw new InvalidOperationException("hook refused")))
        {
            using var channel = Fork.Start(c => c.Send(1));
            var died = Assert.Throws<ChildExitedException>(() => channel.Receive());
            Assert.Equal(70, died.ExitCode);
            Assert.Contains("hook refused", died.Message);
        }
        // Before the fork: nothing is forked, and the hook's exception is the fork's.
        int afterRuns = 0;
        using (Fork.RegisterAtFork(before: static () => throw new InvalidOperationException("not now"), afterInParent: () => afterRuns++))
        {
            var refused = Assert.Throws<InvalidOperationException>(() => Fork.Start(c => c.Send(1)));
            Assert.Equal("not now", refused.Message);
            Assert.Equal(1, afterRuns);
        }
        // After it in the parent: the fork fails with it, and its child is killed and reaped.
        using (Fork.RegisterAtFork(afterInParent: static () => throw new InvalidOperationException("too late")))
        {
            var failed = Assert.Throws<InvalidOperationException>(() => Fork.Start(c => Thread.Sleep(Timeout.Infinite)));
            Assert.Equal("too late", failed.Message);
        }
        Assert.True(ProcFs.NoChildrenLeft());
        Assert.Throws<ArgumentException>(() => Fork.RegisterAtFork());
    }
}
