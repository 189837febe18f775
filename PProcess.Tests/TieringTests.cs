using System.Diagnostics;
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Text.Json;
using PProcess.Runtime;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Tiered compilation in a process that forks (docs/fork-safety.md, rule 8): the library leaves it
/// on, and a child forked while its parent's tiering worker exists gets a worker of its own, so that
/// the methods it calls first are promoted to optimised code as in the parent.
/// </summary>
public class TieringTests
{
    [Fact]
    public void TieredCompilationIsOnInAProcessThatReferencesTheLibrary() => IsolatedProcess.Passes(TieringOnScenario);

    private static void TieringOnScenario()
    {
        Assert.Null(AppContext.GetData("System.Runtime.TieredCompilation"));
        Assert.Null(Environment.GetEnvironmentVariable("DOTNET_TieredCompilation"));
        using var channel = Fork.Start(c => c.Send(1));
        Assert.Equal(1, channel.Receive<int>());
    }

    /// <summary>
    /// A runtime update must fail here, loudly: run the fork-safety battery on it (.ci/runtimes.sh
    /// VERSION, which runs these tests' scenarios on VERSION), then add it to ThreadPoolRepair.VerifiedRuntimes.
    /// </summary>
    [Fact]
    public void TheTieringWorkersStateIsFoundOnTheRuntimesItWasVerifiedOn() => IsolatedProcess.Passes(FoundScenario);

    private static void FoundScenario()
    {
        Assert.Contains(Environment.Version.ToString(), ThreadPoolRepair.VerifiedRuntimes);
        Assert.Null(TieringRepair.Unavailable);
        var image = CoreClrImage.Current(out string? why);
        Assert.True(image is not null, why);
        var (flags, handle, createWorker) = TieringRepair.Locate(image);
        var text = image.Section(".text")!.Value;
        Assert.InRange(createWorker, text.Address, text.Address + text.Size - 1);
        Assert.NotEqual(flags, handle);
    }

    [Fact]
    public void ALibcoreclrWithoutTheWorkersNameIsRefusedWithAReason()
    {
        var image = CoreClrImage.Current(out string? why);
        Assert.True(image is not null, why);
        var bytes = (byte[])image.File.Clone();
        foreach (var name in (string[])[".NET Tiered Compilation Worker", ".NET Tiered JIT"])
        {
            var encoded = System.Text.Encoding.Unicode.GetBytes(name);
            for (int at = bytes.AsSpan().IndexOf(encoded); at >= 0; at = bytes.AsSpan().IndexOf(encoded))
            {
                bytes[at + 2] = (byte)'X';
            }
        }
        var path = Path.Combine(Path.GetTempPath(), $"pprocess-libcoreclr-{Guid.NewGuid():N}.so");
        try
        {
            File.WriteAllBytes(path, bytes);
            var refused = Assert.Throws<BadImageFormatException>(() => TieringRepair.Locate(CoreClrImage.Read(path)));
            Assert.Contains("tiering worker's name", refused.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FlagsThatDisagreeWithTheThreadListTurnTheRepairOff() => IsolatedProcess.Passes(DisagreementScenario);

    private static void DisagreementScenario()
    {
        Assert.Null(TieringRepair.Unavailable);
        TieringRepair.Confirm(flagged: true, workerThreadExists: true);
        TieringRepair.Confirm(flagged: false, workerThreadExists: false);
        TieringRepair.Confirm(flagged: null, workerThreadExists: true);
        Assert.Null(TieringRepair.Unavailable);
        TieringRepair.Confirm(flagged: true, workerThreadExists: false);
        Assert.Contains("the repair is off", TieringRepair.Unavailable);
        Assert.Null(TieringRepair.WorkerFlagged());
    }

    /// <summary>
    /// The parent's tiering worker exists at the fork (it has work: the parent just called many
    /// methods for the first time). The child then calls a method it never called before, far past
    /// the call count at which the runtime promotes it, and waits until something is compiled again
    /// without calling anything new: only a promotion compiles then. Without the repair the child's
    /// requests went to the parent's worker, which does not exist in the child, and nothing was ever
    /// compiled again (measured: the call stayed at 45 ns against 3.6 ns in the parent).
    /// </summary>
    [Fact]
    public void AChildForkedWhileItsParentsTieringWorkerExistsPromotesTheMethodsItCallsFirst() =>
        IsolatedProcess.Run(PromotionScenario, timeout: TimeSpan.FromMinutes(2)).AssertSucceeded();

    private static void PromotionScenario() => PromotesInChild(TimeSpan.FromSeconds(30));

    /// <summary>The same from 4 threads of an async Main, each forking children while the others run.</summary>
    [Fact]
    public void ChildrenForkedFromFourThreadsOfAnAsyncMainPromoteTheirMethods() =>
        IsolatedProcess.Run(FourThreadsScenario, timeout: TimeSpan.FromMinutes(3)).AssertSucceeded();

    private static void FourThreadsScenario() => FourThreadsAsync().GetAwaiter().GetResult();

    private static async Task FourThreadsAsync()
    {
        await Task.Yield();
        var threads = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 3; i++)
            {
                PromotesInChild(TimeSpan.FromSeconds(60));
            }
        })).ToArray();
        await Task.WhenAll(threads);
    }

    private static void PromotesInChild(TimeSpan patience)
    {
        MakeTieringWork();
        Assert.Equal(true, TieringRepair.WorkerFlagged());
        using var channel = Fork.Start(c => c.Send(WaitForPromotion(patience)));
        var report = channel.Receive<string>();
        Assert.True(channel.Wait().Succeeded);
        Assert.StartsWith("promoted", report);
    }

    /// <summary>Calls methods for the first time until the runtime says its tiering worker exists.</summary>
    private static void MakeTieringWork()
    {
        var clock = Stopwatch.StartNew();
        while (TieringRepair.WorkerFlagged() != true)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the runtime's tiering worker never started");
            var records = Enumerable.Range(0, 200).Select(i => new Dictionary<string, int> { ["k" + i] = i }).ToList();
            _ = JsonSerializer.Deserialize<List<Dictionary<string, int>>>(JsonSerializer.Serialize(records));
        }
    }

    private static string WaitForPromotion(TimeSpan patience)
    {
        // Everything the loop calls is called once first, so that the loop compiles nothing new.
        var clock = Stopwatch.StartNew();
        int sum = Step(1);
        _ = clock.Elapsed;
        long before = JitInfo.GetCompiledMethodCount();
        while (clock.Elapsed < patience)
        {
            for (int i = 0; i < 1000; i++)
            {
                sum = Step(sum + i);
            }
            if (JitInfo.GetCompiledMethodCount() > before)
            {
                return $"promoted after {clock.Elapsed.TotalMilliseconds:0} ms ({sum})";
            }
            Thread.Sleep(1);
        }
        return $"nothing compiled again in {patience.TotalSeconds} s: the child's tiered compilation is stuck";
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Step(int x) => (x * 31 + 7) ^ (x >> 3);
}
