using System.Collections.Concurrent;
using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// pipeline_busy: why OrderedPipeline pre-forks. A producer thread computes between puts (busy,
/// never asleep while it has work) and a consumer takes results. Two designs, in one run:
/// (a) OrderedPipeline: workers forked before the threads, jobs sent as messages; (b) fork per
/// job from a dedicated pipeline thread, which must wait for quiescence at every fork. Prints,
/// for each, when the first result reached the consumer, the total time, and whether the order held.
/// </summary>
public static class PipelineBusyProducer
{
    private static int Job(int x) => x * x;

    /// <summary>About <paramref name="milliseconds"/> of computing, without sleeping.</summary>
    private static void Compute(double milliseconds)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalMilliseconds < milliseconds)
        {
        }
    }

    public static void Run(Options options)
    {
        int jobs = 40;
        double work = 5;    // ms of computing by the producer before each put
        Console.WriteLine($"{jobs} jobs; the producer computes {work} ms before each put");

        // (a) pre-forked: made before the threads.
        using (var pipeline = new OrderedPipeline(new OrderedPipelineOptions { Workers = 2, BufferSize = 20 }))
        {
            var clock = Stopwatch.StartNew();
            double first = -1;
            var got = new List<int>();
            var producer = new Thread(() =>
            {
                for (int i = 0; i < jobs; i++)
                {
                    Compute(work);
                    pipeline.Put(Job, i);
                }
                pipeline.Stop();
            });
            var consumer = new Thread(() =>
            {
                while (pipeline.TryGet(null, out var v))
                {
                    if (first < 0)
                    {
                        first = clock.Elapsed.TotalMilliseconds;
                    }
                    got.Add((int)v!);
                }
            });
            producer.Start();
            consumer.Start();
            producer.Join();
            consumer.Join();
            Console.WriteLine($"pre-forked pipeline: first result {first:0.0} ms, all {clock.Elapsed.TotalMilliseconds:0.0} ms, in order: {got.SequenceEqual(Enumerable.Range(0, jobs).Select(Job))}");
        }

        // (b) fork per job, from a pipeline thread, while the producer computes.
        {
            using var puts = new BlockingCollection<int>();
            using var results = new BlockingCollection<Channel>();
            var clock = Stopwatch.StartNew();
            double first = -1;
            int refused = 0;
            var waits = new List<double>();
            using var consumed = new ManualResetEventSlim();
            var forker = new Thread(() =>
            {
                foreach (int x in puts.GetConsumingEnumerable())
                {
                    var before = clock.Elapsed.TotalMilliseconds;
                    while (true)
                    {
                        try
                        {
                            results.Add(Fork.Start(c => c.Send(Job(x))));
                            break;
                        }
                        catch (ForkSafetyException)
                        {
                            refused++;
                        }
                    }
                    waits.Add(clock.Elapsed.TotalMilliseconds - before);
                }
                results.CompleteAdding();
                // A child dies with the thread that forked it (docs/fork-safety.md fact 15): stay until every result is in.
                consumed.Wait();
            });
            var got = new List<int>();
            var consumer = new Thread(() =>
            {
                foreach (var channel in results.GetConsumingEnumerable())
                {
                    got.Add(channel.Receive<int>());
                    channel.Dispose();
                    if (first < 0)
                    {
                        first = clock.Elapsed.TotalMilliseconds;
                    }
                }
                consumed.Set();
            });
            var producer = new Thread(() =>
            {
                for (int i = 0; i < jobs; i++)
                {
                    Compute(work);
                    puts.Add(i);
                }
                puts.CompleteAdding();
            });
            forker.Start();
            consumer.Start();
            producer.Start();
            producer.Join();
            forker.Join();
            consumer.Join();
            Console.WriteLine($"fork per job:        first result {first:0.0} ms, all {clock.Elapsed.TotalMilliseconds:0.0} ms, in order: {got.SequenceEqual(Enumerable.Range(0, jobs).Select(Job))}; " +
                $"fork waited median {waits.Order().ElementAt(waits.Count / 2):0.0} ms, max {waits.Max():0.0} ms, refused {refused}");
        }
    }
}
