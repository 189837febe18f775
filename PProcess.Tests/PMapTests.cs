using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>PMap: ordered, lazy, streaming, batched, cancellable; failures at their element.</summary>
public class PMapTests
{
    private static int SlowTriple(int x)
    {
        Thread.Sleep(new Random(x).Next(0, 25));
        return 3 * x;
    }

    [Fact]
    public void ResultsAreInSourceOrderForEveryBatchSizeAndWithReuse() => IsolatedProcess.Passes(OrderScenario);

    private static void OrderScenario()
    {
        var expected = Enumerable.Range(0, 50).Select(x => 3 * x).ToList();
        Assert.Equal(expected, Enumerable.Range(0, 50).PMap(SlowTriple, limit: 4).ToList());
        Assert.Equal(expected, Enumerable.Range(0, 50).PMap(SlowTriple, new PMapOptions { Limit = 3, BatchSize = 7 }).ToList());
        Assert.Equal(expected, Enumerable.Range(0, 50).PMap(SlowTriple, new PMapOptions { Limit = 3, BatchSize = 4, Reuse = true }).ToList());
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static IEnumerable<int> Endless(Action onRead)
    {
        for (int i = 0; ; i++)
        {
            onRead();
            yield return i;
        }
    }

    [Fact]
    public void AnEndlessSourceYieldsItsFirstResultsAndIsReadOnlyAWindowAhead() => IsolatedProcess.Passes(EndlessScenario);

    private static void EndlessScenario()
    {
        int read = 0;
        var results = Endless(() => read++).PMap(x => x + 1, new PMapOptions { Limit = 2, BatchSize = 3 });
        Assert.Equal(0, read);
        Assert.Equal([1, 2, 3, 4, 5], results.Take(5).ToList());
        // A window of 2 * limit batches of 3, refilled by one batch when the first was taken,
        // plus the read that found a batch full.
        Assert.InRange(read, 5, (2 * 2 + 1) * 3 + 1);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static string FailAtSeven(int x) => x == 7 ? throw new FormatException("seven") : x.ToString();

    [Fact]
    public void AFailureSurfacesAtItsElementAfterTheResultsBeforeIt() => IsolatedProcess.Passes(FailureScenario);

    private static void FailureScenario()
    {
        foreach (var reuse in new[] { false, true })
        {
            var seen = new List<string>();
            var error = Assert.Throws<RemoteException>(() =>
            {
                foreach (var s in Enumerable.Range(0, 20).PMap(FailAtSeven, new PMapOptions { Limit = 2, BatchSize = 3, Reuse = reuse }))
                {
                    seen.Add(s);
                }
            });
            Assert.Equal(Enumerable.Range(0, 7).Select(x => x.ToString()), seen);
            Assert.Equal(typeof(FormatException).FullName, error.RemoteType);
            Assert.Contains(nameof(FailAtSeven), error.StackTrace);
            Assert.True(ProcFs.NoChildrenLeft(), $"children left (reuse: {reuse})");
        }
    }

    [Fact]
    public void CancellationKillsTheChildrenAndRaisesOperationCanceled() => IsolatedProcess.Passes(CancelScenario);

    private static void CancelScenario()
    {
        using var cancel = new CancellationTokenSource();
        var seen = new List<int>();
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var x in Enumerable.Range(0, 1000).PMap(x => { if (x > 0) { Thread.Sleep(60_000); } return x; }, new PMapOptions { Limit = 3 }, cancel.Token))
            {
                seen.Add(x);
                cancel.Cancel();
            }
        });
        Assert.Equal([0], seen);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void AMapEnumeratedOnAfterItsForkingThreadEndedSaysWhyItsChildrenDied() => IsolatedProcess.Passes(MovedScenario);

    /// <summary>
    /// Rule 15 of docs/fork-safety.md: a child dies with the thread that forked it. The first
    /// MoveNext forks the map's children on a thread that then ends; the map goes on on another.
    /// </summary>
    private static void MovedScenario()
    {
        IEnumerator<int>? results = null;
        var forking = new Thread(() =>
        {
            results = Enumerable.Range(0, 10).ToArray().PMap(x =>
            {
                Thread.Sleep(x < 2 ? 0 : 60_000);
                return x;
            }, new PMapOptions { Limit = 2 }).GetEnumerator();
            Assert.True(results.MoveNext());
        });
        forking.Start();
        forking.Join();
        using (results)
        {
            var seen = new List<int> { results!.Current };
            var error = Assert.Throws<ChildExitedException>(() =>
            {
                while (results.MoveNext())
                {
                    seen.Add(results.Current);
                }
            });
            Assert.Equal([0, 1], seen);
            Assert.Equal(9, error.Signal);
            Assert.Contains("rule 15", error.Message);
            Assert.StartsWith("#2 ", error.Job);
        }
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void BadArgumentsAreRefusedAtTheCall()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new[] { 1 }.PMap(x => x, limit: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new[] { 1 }.PMap(x => x, new PMapOptions { BatchSize = 0 }));
        Assert.Throws<ArgumentNullException>(() => ((int[])null!).PMap(x => x));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PMapOptions { Mode = (PMapMode)7 });
        Assert.Null(new PMapOptions { BatchSize = null }.BatchSize);
        Assert.Equal(PMapMode.Adaptive, new PMapOptions().Mode);
    }
}
