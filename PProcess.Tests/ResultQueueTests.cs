using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>ResultQueue (pprocess's Queue): results in arrival order, continuous mode.</summary>
public class ResultQueueTests
{
    /// <summary>Job "slow" waits for the parent's go, so "fast" must arrive first.</summary>
    private static void Held(Channel channel, string name)
    {
        if (name == "slow")
        {
            channel.Receive<string>();
        }
        channel.Send(name);
    }

    [Fact]
    public void ResultsComeInArrivalOrder() => IsolatedProcess.Passes(ArrivalScenario);

    private static void ArrivalScenario()
    {
        using var queue = new ResultQueue<string>(limit: 2);
        queue.Start(Held, "slow");
        queue.Start(Held, "fast");
        var seen = new List<string>();
        foreach (var name in queue)
        {
            seen.Add(name);
            if (name == "fast")
            {
                queue.Active().Single(c => c.Job!.Contains("slow")).Send("go");
            }
        }
        Assert.Equal(["fast", "slow"], seen);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static void Reporter(Channel channel, string name)
    {
        channel.Send($"{name} started");
        if (name == "long")
        {
            // Runs until the parent has seen the queued job's message: only possible if the
            // queued job started while this child was still running.
            channel.Receive<string>();
        }
        channel.Send($"{name} done");
    }

    [Fact]
    public void ContinuousModeStartsQueuedWorkAsSoonAsAnyChildEnds() => IsolatedProcess.Passes(ContinuousScenario);

    private static void ContinuousScenario()
    {
        using var queue = new ResultQueue<string>(new ExchangeOptions { Limit = 2, Continuous = true });
        queue.Start(Reporter, "long");
        queue.Start(Reporter, "short");
        queue.Start(Reporter, "queued");
        var seen = new List<string>();
        foreach (var message in queue)
        {
            seen.Add(message);
            if (message == "queued done")
            {
                queue.Active().Single(c => c.Job!.Contains("long")).Send("go");
            }
        }
        Assert.Equal(6, seen.Count);
        Assert.True(seen.IndexOf("queued done") < seen.IndexOf("long done"));
        Assert.True(seen.IndexOf("short done") < seen.IndexOf("queued started"));
    }

    private static void FailOnTwo(Channel channel, int x)
    {
        if (x == 2)
        {
            throw new ArgumentException("two");
        }
        channel.Send(x);
    }

    [Fact]
    public void AFailureIsRaisedWhereItArrivedAndIterationCanGoOn() => IsolatedProcess.Passes(FailureScenario);

    private static void FailureScenario()
    {
        using var queue = new ResultQueue<int>(limit: 1);
        for (int x = 0; x < 5; x++)
        {
            queue.Start(FailOnTwo, x);
        }
        var seen = new List<int>();
        var error = Assert.Throws<RemoteException>(() =>
        {
            foreach (var x in queue)
            {
                seen.Add(x);
            }
        });
        Assert.Contains("two", error.Message);
        Assert.Equal([0, 1], seen);
        seen.AddRange(queue);
        Assert.Equal([0, 1, 3, 4], seen);
    }
}
