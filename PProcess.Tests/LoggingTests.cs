using Microsoft.Extensions.Logging;
using PProcess.Extensions.Logging;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Logging across the fork (PProcess.Extensions.Logging): what children log through the parent's
/// ILogger reaches the parent's providers, every record, in each child's order, with the child's pid
/// and job in scope, at any volume. On 4624e1d, with the console provider, 0 of 4,000 records of a
/// child appeared and the child hung once it had logged the provider's queue (2,500) until its job
/// timeout (measured: docs/fork-safety.md, "Logging in a child").
/// </summary>
public class LoggingTests
{
    private const int PerChild = 4000;

    /// <summary>A provider that keeps every record with the scopes open around it.</summary>
    public sealed class Collecting : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

        public List<(string Category, LogLevel Level, string Message, string Scopes, Exception? Exception)> Records { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(Collecting owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => owner.scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var text = new List<string>();
                owner.scopes.ForEachScope(static (scope, list) => list.Add(scope?.ToString() ?? ""), text);
                lock (owner.Records)
                {
                    owner.Records.Add((category, logLevel, formatter(state, exception), string.Join(" => ", text), exception));
                }
            }
        }
    }

    [Fact]
    public void ChildrenThatLogMoreThanTheConsoleQueueLoseNothingAndDoNotHang()
    {
        var result = IsolatedProcess.Run(VolumeScenario, timeout: TimeSpan.FromMinutes(3)).AssertSucceeded();
        // The console provider printed every record of both children (its queue holds 2,500).
        Assert.Equal(2 * PerChild, result.Output.Split('\n').Count(line => line.Contains("record ", StringComparison.Ordinal)));
    }

    private static void VolumeScenario()
    {
        var collected = new Collecting();
        int[] pids;
        using (var factory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).AddProvider(collected).AddForkedChildren()))
        {
            var logger = factory.CreateLogger("Jobs");
            using (logger.BeginScope("request {Request}", 42)) // open in the parent at the fork: it goes with the children's records
            {
                pids = new[] { 0, 1 }.PMap(k =>
                {
                    for (int i = 0; i < PerChild; i++)
                    {
                        logger.LogInformation("job {Job} record {Index}", k, i);
                    }
                    return Environment.ProcessId;
                }, new PMapOptions { Limit = 2, JobTimeout = TimeSpan.FromMinutes(2) }).ToArray();
            }
            // Every record is in once the map has ended (its children reaped), not later.
            Assert.Equal(2 * PerChild, collected.Records.Count);
        }
        for (int k = 0; k < 2; k++)
        {
            var mine = collected.Records.Where(r => r.Message.StartsWith($"job {k} ", StringComparison.Ordinal)).ToList();
            Assert.Equal(Enumerable.Range(0, PerChild).Select(i => $"job {k} record {i}"), mine.Select(r => r.Message));
            Assert.All(mine, r => Assert.Equal("Jobs", r.Category));
            Assert.All(mine, r => Assert.StartsWith($"ChildPid:{pids[k]} ChildJob:#{k} lambda in LoggingTests.VolumeScenario({k})", r.Scopes));
            Assert.All(mine, r => Assert.EndsWith("request 42", r.Scopes));
        }
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void LevelsExceptionsAndScopesOfAChildCrossAndAGrandchildsRecordsGoUpThroughIt() => IsolatedProcess.Passes(DetailScenario);

    private static void DetailScenario()
    {
        var collected = new Collecting();
        using (var factory = LoggerFactory.Create(b => b.AddProvider(collected).SetMinimumLevel(LogLevel.Information).AddForkedChildren()))
        {
            var logger = factory.CreateLogger("Detail");
            using var channel = Fork.Start(c =>
            {
                logger.LogDebug("filtered out in the child, as in the parent");
                using (logger.BeginScope("in the child"))
                {
                    try
                    {
                        throw new InvalidOperationException("the child's failure");
                    }
                    catch (InvalidOperationException e)
                    {
                        logger.LogError(e, "it failed at {Step}", 3);
                    }
                }
                // A grandchild's record: logged in the child's relay, which sends it further up.
                using var grandchild = Fork.Start(g => { logger.LogWarning("from the grandchild"); g.Send(Environment.ProcessId); });
                c.Send(grandchild.Receive<int>());
            });
            int grandchildPid = channel.Receive<int>();
            channel.Wait();
            Assert.Equal(2, collected.Records.Count);
            var error = collected.Records[0];
            Assert.Equal(LogLevel.Error, error.Level);
            Assert.Equal("it failed at 3", error.Message);
            Assert.StartsWith($"ChildPid:{channel.Pid} ChildJob:", error.Scopes);
            Assert.EndsWith("in the child", error.Scopes);
            var relayed = Assert.IsType<ChildLoggedException>(error.Exception);
            Assert.Equal(typeof(InvalidOperationException).FullName, relayed.RemoteType);
            Assert.Contains("the child's failure", relayed.ToString());
            Assert.Contains(nameof(DetailScenario), relayed.ToString()); // the child's stack
            var warning = collected.Records[1];
            Assert.Equal("from the grandchild", warning.Message);
            Assert.Contains($"ChildPid:{grandchildPid}", warning.Scopes);
            Assert.StartsWith($"ChildPid:{channel.Pid}", warning.Scopes);
        }
        Assert.True(ProcFs.NoChildrenLeft());
    }
}
