using Mono.Unix.Native;
using PProcess.Examples.Raytracer;
using PProcess.Mpi;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>
/// PMap across MPI ranks, run under MPICH's mpiexec with two ranks on this machine (skipped where
/// mpiexec is missing). Every rank runs the same scenario (SPMD); rank 0 checks the gathered
/// results, and each rank prints "rank N ok" at its end, which the test looks for.
/// </summary>
public class MpiTests
{
    private static readonly int[] Numbers = Enumerable.Range(0, 80).ToArray();

    private static long Square(int x)
    {
        Thread.Sleep(x % 5);
        return (long)x * x;
    }

    private static void AssertEveryRankFinished(IsolatedResult result, int ranks = 2)
    {
        result.AssertSucceeded();
        for (int rank = 0; rank < ranks; rank++)
        {
            Assert.Contains($"rank {rank} ok", result.Output);
        }
    }

    [MpiFact]
    public void TwoRanksGatherTheSequentialResultInOrder() => AssertEveryRankFinished(Mpiexec.RunScenario(GatherScenario));

    private static void GatherScenario()
    {
        int rank = MpiWorld.Rank;
        Assert.Equal(2, MpiWorld.Size);
        var expected = Numbers.Select(x => (long)x * x).ToArray();
        MpiPMapOptions[] ways =
        [
            new() { Limit = 2 },
            new() { Limit = 2, BatchSize = 3, Deal = MpiDeal.Interleaved },
            new() { Limit = 2, Reuse = true, ChunkSize = 5 },
        ];
        foreach (var options in ways)
        {
            // The lowest bit says which rank ran the element (the closure captured the rank in the parent).
            var results = Numbers.PMapAcrossRanks(x => Square(x) * 2 + rank, options);
            if (rank == 0)
            {
                Assert.True(results.HasResults);
                Assert.Null(results.Failure);
                Assert.Equal(expected, results.Select(r => r / 2));
                Assert.Equal([0L, 1L], results.Select(r => r % 2).Distinct().Order());
            }
            else
            {
                Assert.False(results.HasResults);
                Assert.Contains("rank 1", Assert.Throws<InvalidOperationException>(() => results[0]).Message);
            }
        }
        var everywhere = Numbers.PMapAcrossRanks(Square, new MpiPMapOptions { Limit = 2, ResultsOnEveryRank = true });
        Assert.Equal(expected, everywhere);
        Assert.True(ProcFs.NoChildrenLeft());
        Console.WriteLine($"rank {rank} ok");
    }

    private static int FailAtSeven(int x) => x == 7 ? throw new InvalidOperationException("element seven") : x;

    /// <summary>Kills its child at the first attempt of every 10th element (a marker file, shared by the ranks of this job, says so).</summary>
    private static long DiesOnceEvery10(string markers, int x)
    {
        var marker = Path.Combine(markers, x.ToString());
        if (x % 10 == 0 && !File.Exists(marker))
        {
            File.WriteAllText(marker, "");
            Syscall.kill(Syscall.getpid(), Signum.SIGKILL);
            Thread.Sleep(Timeout.Infinite);
        }
        return (long)x * x;
    }

    [MpiFact]
    public void AnElementWhoseChildDiesIsRetriedOnItsRankAndEveryResultArrivesOnceInOrder() =>
        AssertEveryRankFinished(Mpiexec.RunScenario(RetryScenario));

    private static void RetryScenario()
    {
        int rank = MpiWorld.Rank;
        // The ranks of one job on this machine share their parent (the launcher's proxy): one directory for both.
        var markers = Path.Combine(Path.GetTempPath(), $"pprocess-mpi-retries-{Syscall.getppid()}");
        Directory.CreateDirectory(markers);
        var results = Numbers.PMapAcrossRanks(x => DiesOnceEvery10(markers, x) * 2 + rank, new MpiPMapOptions { Limit = 2, Retries = 2 });
        if (rank == 0)
        {
            Assert.Null(results.Failure);
            Assert.Equal(Numbers.Select(x => (long)x * x), results.Select(r => r / 2));
            Assert.Equal([0L, 1L], results.Select(r => r % 2).Distinct().Order());
            Assert.Equal(8, Directory.GetFiles(markers).Length);
            Directory.Delete(markers, recursive: true);
        }
        Assert.True(ProcFs.NoChildrenLeft());
        Console.WriteLine($"rank {rank} ok");
    }

    [MpiFact]
    public void AnElementThatFailsOnRankOneIsRaisedAtItsIndexOnRankZeroWithTheChildsStackAndTheRank() =>
        AssertEveryRankFinished(Mpiexec.RunScenario(FailureScenario));

    private static void FailureScenario()
    {
        int rank = MpiWorld.Rank;
        // Ranges of one, dealt round-robin: element x runs on rank x % 2, so 7 fails on rank 1.
        var results = Numbers.PMapAcrossRanks(FailAtSeven, new MpiPMapOptions { Limit = 2, Deal = MpiDeal.Interleaved, ChunkSize = 1 });
        // Dealt on request: rank 1 fails at the first element ending in 3 of its first range.
        var dynamic = Numbers.PMapAcrossRanks(x => rank == 1 && x % 10 == 3 ? throw new FormatException($"{x} on rank 1") : x,
            new MpiPMapOptions { Limit = 2 });
        // A child must not call MPI: it is told so, as an element's failure.
        var nested = Numbers.PMapAcrossRanks(x => x == 5 ? MpiWorld.Rank : x, new MpiPMapOptions { Limit = 2 });
        if (rank == 0)
        {
            var seen = new List<int>();
            var error = Assert.Throws<RankFailureException>(() =>
            {
                foreach (var r in results)
                {
                    seen.Add(r);
                }
            });
            Assert.Equal(Enumerable.Range(0, 7), seen);
            Assert.Equal(7, error.Index);
            Assert.Equal(1, error.Rank);
            Assert.Equal(Environment.MachineName, error.HostName);
            Assert.Equal("PProcess.RemoteException", error.RankExceptionType);
            Assert.Equal("System.InvalidOperationException", error.RemoteType);
            Assert.Equal("element seven", error.RemoteMessage);
            Assert.Contains(nameof(FailAtSeven), error.RemoteStackTrace);
            Assert.StartsWith("Element 7 failed on rank 1 of 2 (", error.Message);
            Assert.Contains(nameof(FailAtSeven), error.StackTrace);
            Assert.Contains("End of stack trace from rank 1", error.StackTrace);
            Assert.Same(error, results.Failure);
            Assert.Equal(7, results.Completed);
            Assert.Equal(6, results[6]);
            Assert.Same(error, Assert.Throws<RankFailureException>(() => results[7]));
            Assert.Contains("ended at element 7", Assert.Throws<InvalidOperationException>(() => results[8]).Message);

            var failure = Assert.IsType<RankFailureException>(dynamic.Failure);
            Assert.Equal(1, failure.Rank);
            Assert.Equal(3, failure.Index % 10);
            Assert.Equal($"{failure.Index} on rank 1", failure.RemoteMessage);
            Assert.Equal(failure.Index, dynamic.Completed);
            Assert.Equal(Enumerable.Range(0, failure.Index), dynamic.Take(failure.Index));

            var refused = Assert.IsType<RankFailureException>(nested.Failure);
            Assert.Equal(5, refused.Index);
            Assert.Equal("System.InvalidOperationException", refused.RemoteType);
            Assert.Contains("forked child", refused.RemoteMessage);
        }
        Console.WriteLine($"rank {rank} ok");
    }

    private static string? Nothing() => Environment.ProcessId < 0 ? "" : null;

    [MpiFact]
    public void ANullReferenceIsStillAnExceptionInARankAndInItsChildren() => AssertEveryRankFinished(Mpiexec.RunScenario(NullReferenceScenario));

    /// <summary>UCX's own SIGSEGV handler (on unless PProcess.Mpi empties UCX_ERROR_SIGNALS) turns this into a crash of the rank.</summary>
    private static void NullReferenceScenario()
    {
        int rank = MpiWorld.Rank;
        Assert.Throws<NullReferenceException>(() => Nothing()!.Length);
        var results = Numbers.PMapAcrossRanks(x =>
        {
            try
            {
                return Nothing()!.Length;
            }
            catch (NullReferenceException)
            {
                return -x;
            }
        }, new MpiPMapOptions { Limit = 2, ResultsOnEveryRank = true });
        Assert.Equal(Numbers.Select(x => -x), results);
        Console.WriteLine($"rank {rank} ok");
    }

    /// <summary>Fails the test, with everything mpiexec printed, unless the job failed and printed each of <paramref name="expected"/>.</summary>
    private static void AssertJobFailedSaying(IsolatedResult result, params string[] expected)
    {
        var all = result.Output + result.Error;
        var report = $"mpiexec exited with {result.ExitCode}\n--- stdout ---\n{result.Output}\n--- stderr ---\n{result.Error}";
        Assert.True(result.ExitCode != 0, report);
        Assert.True(expected.All(all.Contains), report);
        Assert.False(all.Contains("returned on rank"), report);
    }

    [MpiFact]
    public void ARankThatDiesEndsTheJobThroughMpiInsteadOfHanging()
    {
        AssertJobFailedSaying(Mpiexec.RunScenario(KilledRankScenario, timeout: TimeSpan.FromSeconds(60)), "BAD TERMINATION", "Killed (signal 9)");
        // The other rank and every child of both are gone too (children follow their rank through PR_SET_PDEATHSIG).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Left(nameof(KilledRankScenario)) is { Length: > 0 } left)
        {
            Assert.True(DateTime.UtcNow < deadline, $"processes of the job outlived it: {string.Join(", ", left)}");
            Thread.Sleep(20);
        }
    }

    /// <summary>The live processes whose command line mentions <paramref name="scenario"/>.</summary>
    private static int[] Left(string scenario) =>
        Directory.EnumerateDirectories("/proc")
            .Select(dir => int.TryParse(Path.GetFileName(dir), out int pid) ? pid : 0)
            .Where(pid => pid > 0 && !Daemons.IsGone(pid) && ReadOrEmpty($"/proc/{pid}/cmdline").Contains(scenario))
            .ToArray();

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static void KilledRankScenario()
    {
        int rank = MpiWorld.Rank;
        var results = Numbers.PMapAcrossRanks(x =>
        {
            if (rank == 1)
            {
                Syscall.kill(Syscall.getppid(), Signum.SIGKILL); // the child kills its rank
            }
            Thread.Sleep(50);
            return x;
        }, new MpiPMapOptions { Limit = 2 });
        Console.WriteLine($"the map returned on rank {rank}");
    }

    [MpiFact]
    public void ARankThatExitsWithAnErrorCodeWhileAnotherWaitsEndsTheJob() =>
        AssertJobFailedSaying(Mpiexec.RunScenario(EarlyExitScenario, timeout: TimeSpan.FromSeconds(60)),
            "rank 1 failed before the map", "PProcess.Mpi: rank 1 of 2", "exits with code 1");

    /// <summary>
    /// Rank 1 fails before the map (the scenario host catches the exception and returns 1) while rank 0
    /// waits in it: rank 1's exit must end the job, not wait for rank 0 in MPI_Finalize for ever.
    /// </summary>
    private static void EarlyExitScenario()
    {
        int rank = MpiWorld.Rank;
        if (rank == 1)
        {
            throw new InvalidOperationException("rank 1 failed before the map");
        }
        Numbers.PMapAcrossRanks(Square);
        Console.WriteLine($"the map returned on rank {rank}");
    }

    [MpiFact]
    public void RanksWithDifferentListsEndTheJobWithAClearError() =>
        AssertJobFailedSaying(Mpiexec.RunScenario(MismatchScenario, timeout: TimeSpan.FromSeconds(60)),
            "PProcess.Mpi: rank 1 of 2", "Rank 1 maps 11 elements", "every rank must build the same list", "at PProcess.Mpi.MpiPMapExtensions.PMapAcrossRanks");

    private static void MismatchScenario()
    {
        int rank = MpiWorld.Rank;
        Enumerable.Range(0, 10 + rank).ToArray().PMapAcrossRanks(x => x);
        Console.WriteLine($"the map returned on rank {rank}");
    }

    [MpiFact]
    public void RankZeroAnswersTheOtherRanksWhileItsOwnElementRuns()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"pprocess-mpi-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        try
        {
            AssertEveryRankFinished(Mpiexec.RunScenario(SlowRankZeroScenario, timeout: TimeSpan.FromSeconds(120),
                environment: new Dictionary<string, string> { ["MPI_TEST_DIR"] = directory }));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// Rank 0's first element waits (up to 30 s) until rank 1 has finished 10 elements, which takes
    /// ranges that only rank 0 deals: before, rank 0 answered only between its own elements, rank 1
    /// stopped after at most two ranges of 2, and the element saw 4.
    /// </summary>
    private static void SlowRankZeroScenario()
    {
        int rank = MpiWorld.Rank;
        foreach (var mode in (PMapMode[])[PMapMode.Adaptive, PMapMode.ForkPerElement])
        {
            var log = Path.Combine(Environment.GetEnvironmentVariable("MPI_TEST_DIR")!, $"{mode}.log");
            var results = Enumerable.Range(0, 40).ToArray().PMapAcrossRanks(x =>
            {
                if (rank == 1)
                {
                    File.AppendAllText(log, "x");
                }
                else if (x == 0)
                {
                    var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                    while (Length(log) < 10 && DateTime.UtcNow < deadline)
                    {
                        Thread.Sleep(10);
                    }
                    return Length(log);
                }
                return x;
            }, new MpiPMapOptions { Limit = 1, ChunkSize = 2, Mode = mode });
            if (rank == 0)
            {
                Assert.True(results[0] >= 10, $"{mode}: rank 1 finished {results[0]} elements while rank 0's first element ran");
                Assert.Equal(Enumerable.Range(1, 39).Select(x => (long)x), results.Skip(1));
            }
        }
        Console.WriteLine($"rank {rank} ok");
    }

    private static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    [MpiFact]
    public void ARankThatHangsEndsTheJobNamingItOnceItsSilenceTimeoutHasPassed() =>
        AssertJobFailedSaying(Mpiexec.RunScenario(HangingRankScenario, timeout: TimeSpan.FromSeconds(60)),
            "PProcess.Mpi: rank 0 of 2", "Rank 1 of 2 has finished no element for 3 s (MpiPMapOptions.RankSilenceTimeout)",
            "rank 1, which owes elements from 10");

    /// <summary>Rank 1's element 12 never ends, and has no JobTimeout: before, every rank waited for ever.</summary>
    private static void HangingRankScenario()
    {
        int rank = MpiWorld.Rank;
        // A first map pays each rank's first fork, which a loaded machine could stretch past the silence allowed.
        Numbers.PMapAcrossRanks(x => x, new MpiPMapOptions { Limit = 2 });
        Numbers.PMapAcrossRanks(x =>
        {
            if (rank == 1 && x == 12)
            {
                Thread.Sleep(Timeout.Infinite);
            }
            return x;
        }, new MpiPMapOptions { Limit = 2, RankSilenceTimeout = TimeSpan.FromSeconds(3) });
        Console.WriteLine($"the map returned on rank {rank}");
    }

    [MpiFact]
    public void AMapPastItsMapTimeoutEndsTheJobNamingTheRankStillComputing()
    {
        var result = Mpiexec.RunScenario(HangingRankZeroScenario, timeout: TimeSpan.FromSeconds(60));
        AssertJobFailedSaying(result, "PProcess.Mpi: rank 0 of 2", "has run past its MpiPMapOptions.MapTimeout of 4 s",
            "rank 0 (this rank), at its element 2", "had not finished");
        Assert.DoesNotContain("rank 0 left the map", result.Output);
    }

    /// <summary>Rank 0's own element 2 never ends: rank 0 deals to rank 1 meanwhile, and ends the job at the map's deadline.</summary>
    private static void HangingRankZeroScenario()
    {
        int rank = MpiWorld.Rank;
        Numbers.PMapAcrossRanks(x =>
        {
            if (rank == 0 && x == 2)
            {
                Thread.Sleep(Timeout.Infinite);
            }
            return x;
        }, new MpiPMapOptions { Limit = 2, MapTimeout = TimeSpan.FromSeconds(4) });
        // Rank 1, done with everything dealt to it, leaves the map (it does not receive the results); rank 0 must not.
        Console.WriteLine($"rank {rank} left the map");
    }

    [MpiFact]
    public void EveryResultArrivesOnceInOrderAcrossTwoRanksWhileEachRanksChildrenAreKilledAtRandom()
    {
        var output = Mpiexec.RunExample(2, "chaos", "--mpi", "--count", "3000", "--limit", "2").AssertSucceeded().Output;
        Assert.Contains("chaos: rank 0 ok", output);
        Assert.Contains("chaos: rank 1 ok", output);
    }

    [MpiFact]
    public void TheRaytracerAcrossTwoRanksWritesTheSequentialRender()
    {
        var output = Path.Combine(Path.GetTempPath(), $"pprocess-raytracer-mpi-{Guid.NewGuid():N}.png");
        try
        {
            var result = Mpiexec.RunExample(2, "raytracer", "--mpi", "--output", output, "--limit", "2").AssertSucceeded();
            Assert.StartsWith($"Rendered 300x200 (pmap across 2 ranks) to {output}", result.Output);
            Assert.Equal(Renderer.RenderSequential(), PngDecoder.Decode(output).Rows);
        }
        finally
        {
            File.Delete(output);
        }
    }

    [Fact]
    public void OutsideALauncherItIsPMapOnThisMachineAndLoadsNoMpi() => IsolatedProcess.Passes(OneMachineScenario);

    private static void OneMachineScenario()
    {
        Assert.False(MpiWorld.IsLaunched);
        Assert.Equal((0, 1), (MpiWorld.Rank, MpiWorld.Size));
        var results = Numbers.PMapAcrossRanks(Square, new MpiPMapOptions { Limit = 3, BatchSize = 2 });
        Assert.True(results.HasResults);
        Assert.Equal(Numbers.Select(x => (long)x * x), results);
        var failed = Numbers.PMapAcrossRanks(FailAtSeven, new MpiPMapOptions { Limit = 2 });
        var error = Assert.IsType<RemoteException>(failed.Failure);
        Assert.Equal("element seven", error.RemoteMessage);
        Assert.Equal(7, failed.Completed);
        Assert.Same(error, Assert.Throws<RemoteException>(() => failed[7]));
        Assert.DoesNotContain("libmpi", File.ReadAllText("/proc/self/maps"));
        Assert.True(ProcFs.NoChildrenLeft());
    }
}
