using System.Diagnostics;

namespace PProcess.Examples.Programs;

/// <summary>
/// ordered_pipeline: parallel-queue's use. A producer thread puts the 100 cells as jobs, and after
/// each row a marker; a consumer thread gets results in put order and prints a row at each marker.
/// The pipeline's --limit workers were forked when it was made, before either thread started.
/// </summary>
public static class OrderedPipelineExample
{
    /// <summary>A row is done: parallel-queue's BatchDone marker, passed through in order.</summary>
    public sealed record RowDone(int Row);

    private static int Cell((int I, int J, long DelayTicks) cell) => Table.Calculate(cell.I, cell.J, TimeSpan.FromTicks(cell.DelayTicks));

    public static void Run(Options options)
    {
        var clock = Stopwatch.StartNew();
        using var pipeline = new OrderedPipeline(new OrderedPipelineOptions { Workers = options.Limit });
        var producer = new Thread(() =>
        {
            for (int i = 0; i < Options.N; i++)
            {
                for (int j = 0; j < Options.N; j++)
                {
                    pipeline.Put(Cell, (i, j, options.Delay.Ticks));
                }
                pipeline.Put(new RowDone(i));
            }
            pipeline.Stop();
        });
        var consumer = new Thread(() =>
        {
            var row = new List<int>();
            while (pipeline.TryGet(null, out var value))
            {
                if (value is RowDone)
                {
                    Console.WriteLine(Table.Row(row));
                    row.Clear();
                }
                else
                {
                    row.Add((int)value!);
                }
            }
        });
        producer.Start();
        consumer.Start();
        producer.Join();
        consumer.Join();
        pipeline.Join();
        Table.PrintTime(clock);
    }
}
