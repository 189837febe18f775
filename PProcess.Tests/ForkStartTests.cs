using PProcess.Runtime;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// A fork never leaves a child stuck before user code (docs/fork-safety.md, "How a fork is made"):
/// a child that cannot start is killed and the fork made again, transparently, and its job runs
/// exactly once. The faults are injected (TestHooks.InjectFault) because the races they stand for
/// (a lock held by another thread at the fork, a thread running during it) are rare by design.
/// </summary>
public class ForkStartTests
{
    [Fact]
    public void AChildAsleepBeforeItsStartIsKilledAndTheForkMadeAgain() => IsolatedProcess.Passes(AsleepScenario);

    private static void AsleepScenario() => RetriedScenario(ForkPoint.Fault.Sleep, "slept");

    [Fact]
    public void AChildSpinningBeforeItsStartIsKilledAndTheForkMadeAgain() => IsolatedProcess.Passes(SpinningScenario);

    private static void SpinningScenario() => RetriedScenario(ForkPoint.Fault.Spin, "spinning");

    [Fact]
    public void AChildThatDiesBeforeItsStartIsForkedAgain() => IsolatedProcess.Passes(DiesScenario);

    private static void DiesScenario() => RetriedScenario(ForkPoint.Fault.Die, "ended before it was ready");

    [Fact]
    public void AForkDuringWhichAnotherThreadRanIsMadeAgain() => IsolatedProcess.Passes(DisturbedScenario);

    private static void DisturbedScenario() => RetriedScenario(ForkPoint.Fault.Disturbed, "another thread ran during the fork");

    [Fact]
    public void AForkAfterWhichTheForkingThreadStartedAThreadIsMadeAgain() => IsolatedProcess.Passes(NewThreadScenario);

    // The standard-error relay's thread was once started between the check and the fork: its start,
    // holding a runtime lock, was not in the snapshot, and a child's JIT waited for ever on that lock.
    private static void NewThreadScenario() => RetriedScenario(ForkPoint.Fault.NewThread, "threads, ");

    /// <summary>
    /// Each job's first fork fails in the given way; every job still runs once, in order, and the
    /// retries are counted. Without the handshake a sleeping or spinning child never answers and
    /// this waits for ever (the scenario's guard ends it).
    /// </summary>
    private static void RetriedScenario(ForkPoint.Fault fault, string reason)
    {
        TestHooks.StuckAsleep = TimeSpan.FromMilliseconds(300);
        TestHooks.StuckSpinning = TimeSpan.FromMilliseconds(300);
        TestHooks.InjectFault = attempt => attempt == 1 ? fault : ForkPoint.Fault.None;
        var ran = Path.Combine(Path.GetTempPath(), $"pprocess-forkstart-{Environment.ProcessId}");
        File.Delete(ran);
        // A fork per element, so that each of the three forks meets the fault.
        var results = Enumerable.Range(0, 3).PMap(i =>
        {
            File.AppendAllText(ran, $"{i}\n");
            return i * 10;
        }, new PMapOptions { Limit = 1, Mode = PMapMode.ForkPerElement }).ToList();
        Assert.Equal([0, 10, 20], results);
        Assert.Equal(["0", "1", "2"], File.ReadAllLines(ran).Order());
        File.Delete(ran);
        // The runtime's own threads wake now and then (the tiering worker every 100 ms while it delays
        // tier-up, the finalizer after a collection), and a fork one of them ran during is made again
        // too (rule 18): those retries, which name the thread, are not the fault's (a finalizer's was
        // once counted as the fault's and failed the sleeping scenario under load).
        var reasons = ForkPoint.RecentRetryReasons;
        // Such a retry may also take the place of the fault's: the fault is injected in an attempt 1.
        var injected = reasons.Where(r => !r.Contains("ran during the fork (thread ", StringComparison.Ordinal)).ToList();
        Assert.True(injected.Count >= 1 && reasons.Count >= 3 && injected.All(r => r.Contains(reason)), "retries: " + string.Join(" | ", reasons));
        Assert.Equal(reasons.Count, Fork.Retries);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AThreadThatRunsDuringEveryForkEndsInAClearErrorAfterThePatience() => IsolatedProcess.Passes(AlwaysDisturbedScenario);

    private static void AlwaysDisturbedScenario()
    {
        TestHooks.QuiescencePatience = TimeSpan.FromMilliseconds(300);
        TestHooks.InjectFault = _ => ForkPoint.Fault.Disturbed;
        var error = Assert.Throws<ForkSafetyException>(() => new[] { 1 }.PMap(i => i, limit: 1).ToList());
        Assert.Equal("threads", error.Setting);
        Assert.Contains("ran during every fork", error.Message);
        Assert.Contains("polling loop", error.Message);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ForksThatNeverStartEndInAClearErrorNotAHang() => IsolatedProcess.Passes(NeverStartsScenario);

    private static void NeverStartsScenario()
    {
        TestHooks.InjectFault = _ => ForkPoint.Fault.Die;
        var error = Assert.Throws<ForkException>(() => new[] { 1 }.PMap(i => i, limit: 1).ToList());
        Assert.Contains($"{ForkPoint.MaxAttempts} children could not start safely", error.Message);
        Assert.Contains("ended before it was ready", error.Message);
        Assert.True(ProcFs.NoChildrenLeft());
        // The next fork, without the fault, works.
        TestHooks.InjectFault = null;
        Assert.Equal([2], new[] { 1 }.PMap(i => i * 2, limit: 1));
    }
}
