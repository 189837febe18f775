using System.Buffers.Binary;
using System.Diagnostics;
using PProcess.Mpi.Native;
using PProcess.Native;
using PProcess.Serialization;

namespace PProcess.Mpi.Dealing;

/// <summary>
/// One rank's part of a map across ranks. Every rank runs one local PMap over a stream of source
/// indices; the stream is fed with the ranges dealt to the rank, so the rank's children stay busy
/// across ranges. Rank 0 deals (on request) and gathers: it answers the other ranks whenever its
/// own stream is read, one of its results arrives, or its local PMap waits for its children
/// (<see cref="PMapOptions.WhileWaiting"/>: every 1 to 16 ms), and at the end until every rank is
/// done; it is the forking thread, so no other thread of it ever calls MPI or runs at a fork. The
/// other ranks ask for their next range as soon as they start one (so that the answer is there when
/// they need it), hand over each range's results as soon as they are all in, and say when they are
/// done. Rank 0 ends the job (an exception, which becomes MPI_Abort) when a rank stays silent past
/// <see cref="MpiPMapOptions.RankSilenceTimeout"/> or the map runs past
/// <see cref="MpiPMapOptions.MapTimeout"/>; the other ranks wait for rank 0 within the same bounds.
/// </summary>
internal sealed class RankMap<T, TResult>
{
    private readonly IList<T> source;
    private readonly Func<T, TResult> selector;
    private readonly MpiPMapOptions options;
    private readonly IChannelSerializer serializer;
    private readonly int rank;
    private readonly int size;
    private readonly int count;
    private readonly int perRank;

    /// <summary>The ranges of this rank whose results have not all been yielded, in order.</summary>
    private readonly Queue<Chunk> dealt = new();
    private readonly List<TResult> current = [];

    // Rank 0: the dealer and the gathered results.
    private readonly RangeDealer? dealer;
    private readonly TResult[] values = [];
    private readonly bool[] arrived = [];
    private RankFailure? firstFailure;
    private int ranksDone;

    // Deadlines. Rank 0 keeps, for each rank, when it last heard from it (its own results, for
    // itself), whether it is done, and the ranges dealt to it whose results have not arrived (its
    // own are in dealt).
    private readonly Deadline mapDeadline;
    private readonly TimeSpan? silence;
    private readonly long[] lastHeard = [];
    private readonly bool[] finished = [];
    private readonly List<Chunk>[] owed = [];
    private TimeSpan serveInterval = MinServeInterval;
    private static readonly TimeSpan MinServeInterval = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan MaxServeInterval = TimeSpan.FromMilliseconds(16);

    // The other ranks: when they last sent rank 0 anything.
    private long lastSent;

    // The other ranks: the pending answer to their request, and the reports still being sent.
    private readonly NativeBuffer reply = new(8);
    private int replyRequest = Mpich.RequestNull;
    private bool dealtOut;
    private bool started;
    private readonly List<(int Request, NativeBuffer Buffer)> sending = [];

    internal RankMap(IList<T> source, Func<T, TResult> selector, MpiPMapOptions options)
    {
        this.source = source;
        this.selector = selector;
        this.options = options;
        serializer = options.Serializer ?? DefaultChannelSerializer.Instance;
        rank = MpiWorld.Rank;
        size = MpiWorld.Size;
        count = source.Count;
        perRank = checked((options.Limit ?? Cores.Usable) * (options.BatchSize ?? 1));
        mapDeadline = Deadline.After(options.MapTimeout);
        silence = options.RankSilenceTimeout;
        lastSent = Stopwatch.GetTimestamp();
        if (rank == 0)
        {
            values = new TResult[count];
            arrived = new bool[count];
            dealer = options.Deal == MpiDeal.Dynamic ? new RangeDealer(count, size, options.ChunkSize) : null;
            lastHeard = new long[size];
            Array.Fill(lastHeard, lastSent);
            finished = new bool[size];
            owed = new List<Chunk>[size];
            owed[0] = [];
            for (int r = 1; r < size; r++)
            {
                owed[r] = options.Deal == MpiDeal.Interleaved
                    ? [.. Interleaved.Chunks(count, size, r, options.ChunkSize)]
                    : RangeDealer.First(count, size, r, options.ChunkSize) is { } first ? [first] : [];
            }
        }
    }

    internal MpiResults<TResult> Run()
    {
        try
        {
            Agree();
            MapLocally();
            if (rank == 0)
            {
                Gather();
            }
            else
            {
                Conclude();
            }
            return Results();
        }
        finally
        {
            reply.Dispose();
        }
    }

    /// <summary>Checks that every rank has the list rank 0 has and deals the same way: SPMD, or the ranks would wait on each other for ever.</summary>
    private void Agree()
    {
        using var shape = new NativeBuffer(8);
        BinaryPrimitives.WriteInt32LittleEndian(shape.Span, count);
        BinaryPrimitives.WriteInt32LittleEndian(shape.Span[4..], (int)options.Deal);
        if (!Messages.Broadcast(shape, mapDeadline))
        {
            throw PastMapTimeout($"rank {rank} waited for every rank to start the map");
        }
        int rootCount = BinaryPrimitives.ReadInt32LittleEndian(shape.Span);
        var rootDeal = (MpiDeal)BinaryPrimitives.ReadInt32LittleEndian(shape.Span[4..]);
        if (rootCount != count || rootDeal != options.Deal)
        {
            throw new MpiException(
                $"Rank {rank} maps {count} elements dealt {options.Deal}, rank 0 maps {rootCount} dealt {rootDeal}: every rank must build " +
                "the same list and pass the same options (SPMD, docs/scaling.md).");
        }
    }

    /// <summary>Runs this rank's local PMap over its ranges and hands over each range's results; stops at a failed element.</summary>
    private void MapLocally()
    {
        // The elements themselves, not their indices, go to PMap: the children's jobs are named after the
        // selector, as on one machine, and reused children receive elements, as PMap's do.
        var local = options.ToPMapOptions();
        if (rank == 0)
        {
            local.WhileWaiting = WhileWaiting;
        }
        var stream = Indices().Select(i => source[i]).PMap(selector, local);
        using var results = stream.GetEnumerator();
        while (true)
        {
            try
            {
                if (!results.MoveNext())
                {
                    return;
                }
            }
            catch (Exception e) when (e is not MapFault)
            {
                if (!dealt.TryPeek(out var chunk))
                {
                    throw new MapFault(e);
                }
                Hand(chunk, [.. current], RankFailure.From(e, chunk.Start + current.Count, rank, size));
                dealer?.Stop();
                return;
            }
            current.Add(results.Current);
            var head = dealt.Peek();
            if (current.Count == head.Count)
            {
                Hand(head, [.. current], null);
                dealt.Dequeue();
                current.Clear();
            }
            else
            {
                SayProgress();
            }
            if (rank == 0)
            {
                lastHeard[0] = Stopwatch.GetTimestamp();
                Serve();
            }
        }
    }

    /// <summary>
    /// Rank 0, while its local PMap waits for its children: answers the other ranks and checks the
    /// deadlines, so that a slow element of rank 0 idles nobody, and a rank that hangs ends the job.
    /// Returns how long the PMap may wait before asking again: 1 ms after a message, doubling to 16 ms.
    /// </summary>
    private TimeSpan WhileWaiting()
    {
        try
        {
            serveInterval = Serve() ? MinServeInterval : TimeSpan.FromTicks(Math.Min(serveInterval.Ticks * 2, MaxServeInterval.Ticks));
            CheckDeadlines();
            return serveInterval;
        }
        catch (Exception e)
        {
            // Raised through the local PMap's enumeration: marked, so that it is not taken for an element's failure.
            throw new MapFault(e);
        }
    }

    /// <summary>A rank other than 0 that has finished an element mid-range tells rank 0 it lives, at most four times per silence timeout.</summary>
    private void SayProgress()
    {
        if (rank != 0 && silence is { } quiet && Stopwatch.GetElapsedTime(lastSent) >= quiet / 4)
        {
            Messages.SendInts(0, Messages.Progress, []);
            lastSent = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>The indices of the ranges dealt to this rank, read by the local PMap as it has room for more.</summary>
    private IEnumerable<int> Indices()
    {
        var fixedRanges = options.Deal == MpiDeal.Interleaved
            ? Interleaved.Chunks(count, size, rank, options.ChunkSize).GetEnumerator()
            : null;
        while (NextChunk(fixedRanges) is { } chunk)
        {
            for (int i = chunk.Start; i < chunk.End; i++)
            {
                yield return i;
            }
        }
    }

    private Chunk? NextChunk(IEnumerator<Chunk>? fixedRanges)
    {
        try
        {
            if (rank == 0)
            {
                Serve();
            }
            Chunk? chunk = fixedRanges is not null ? (fixedRanges.MoveNext() ? fixedRanges.Current : null)
                : !started ? First()
                : rank == 0 ? dealer!.Take(perRank)
                : Answer();
            started = true;
            if (chunk is { } c)
            {
                dealt.Enqueue(c);
            }
            return chunk;
        }
        catch (Exception e)
        {
            // Raised through the local PMap's enumeration: marked, so that it is not taken for an element's failure.
            throw new MapFault(e);
        }
    }

    /// <summary>This rank's first range, which needs no request; the others ask for their next one at once.</summary>
    private Chunk? First()
    {
        var first = RangeDealer.First(count, size, rank, options.ChunkSize);
        if (first is null)
        {
            dealtOut = true;
        }
        else if (rank != 0)
        {
            Ask();
        }
        return first;
    }

    /// <summary>On a rank other than 0: the range rank 0 dealt in answer to the last request, and the next request.</summary>
    private Chunk? Answer()
    {
        if (dealtOut)
        {
            return null;
        }
        WaitForRankZero(ref replyRequest, "to deal this rank its next range");
        int start = BinaryPrimitives.ReadInt32LittleEndian(reply.Span);
        int length = BinaryPrimitives.ReadInt32LittleEndian(reply.Span[4..]);
        if (length == 0)
        {
            dealtOut = true;
            return null;
        }
        if (start < 0 || length < 0 || start > count - length)
        {
            throw new MpiException($"Rank 0 dealt elements {start} to {start + length - 1} of a list of {count}.");
        }
        Ask();
        return new Chunk(start, length);
    }

    private void Ask()
    {
        Messages.SendInts(0, Messages.Request, [perRank]);
        lastSent = Stopwatch.GetTimestamp();
        replyRequest = Messages.StartReceive(reply, 0, Messages.Reply);
    }

    /// <summary>
    /// A rank other than 0: waits for a request that rank 0 must complete, within the map's deadline
    /// and the silence timeout; past either, the map fails naming rank 0.
    /// </summary>
    private void WaitForRankZero(ref int request, string what)
    {
        var until = silence is { } quiet ? Deadline.Earlier(mapDeadline, Deadline.After(quiet)) : mapDeadline;
        if (Messages.Wait(ref request, until))
        {
            return;
        }
        throw mapDeadline.HasPassed
            ? PastMapTimeout($"rank {rank} waited for rank 0 {what}")
            : new MpiException(
                $"Rank {rank} of {size} waited {silence!.Value.TotalSeconds:0.###} s for rank 0 {what} " +
                "(MpiPMapOptions.RankSilenceTimeout): rank 0 is stuck or stopped.");
    }

    /// <summary>Hands over a range's results: kept on rank 0, sent by the others.</summary>
    private void Hand(Chunk chunk, TResult[] results, RankFailure? failure)
    {
        if (rank == 0)
        {
            Store(chunk.Start, results, failure);
            return;
        }
        var buffer = Report.Encode(chunk.Start, results, failure, serializer);
        sending.Add((Messages.StartSend(buffer, 0, Messages.Result), buffer));
        lastSent = Stopwatch.GetTimestamp();
        // Frees the buffers of the reports rank 0 has taken since, so that a rank keeps only those still travelling.
        sending.RemoveAll(send =>
        {
            var request = send.Request;
            if (!Messages.Test(ref request))
            {
                return false;
            }
            send.Buffer.Dispose();
            return true;
        });
    }

    private void Store(int start, TResult[] results, RankFailure? failure)
    {
        if (start < 0 || start > count - results.Length)
        {
            throw new MpiException($"A rank handed over results for elements {start} to {start + results.Length - 1} of a list of {count}.");
        }
        results.CopyTo(values, start);
        Array.Fill(arrived, true, start, results.Length);
        if (failure is not null && (firstFailure is null || failure.Index < firstFailure.Index))
        {
            firstFailure = failure;
            dealer?.Stop();
        }
    }

    /// <summary>Rank 0: answers every message already waiting, without waiting for more; true if there was one.</summary>
    private bool Serve()
    {
        bool any = false;
        while (Messages.TryProbe(out var status))
        {
            Handle(status);
            any = true;
        }
        return any;
    }

    private void Handle(in Mpich.Status status)
    {
        using var message = Messages.Receive(status);
        if ((uint)status.Source >= (uint)size)
        {
            throw new MpiException($"A message came from rank {status.Source}, and there are {size} ranks.");
        }
        lastHeard[status.Source] = Stopwatch.GetTimestamp();
        switch (status.Tag)
        {
            case Messages.Request:
                var chunk = dealer?.Take(BinaryPrimitives.ReadInt32LittleEndian(message.Span));
                Messages.SendInts(status.Source, Messages.Reply, [chunk?.Start ?? 0, chunk?.Count ?? 0]);
                if (chunk is { } dealtNow)
                {
                    owed[status.Source].Add(dealtNow);
                }
                break;
            case Messages.Result:
                var (start, results, failure) = Report.Decode<TResult>(message, serializer);
                Store(start, results, failure);
                owed[status.Source].RemoveAll(range => range.Start == start);
                break;
            case Messages.Done:
                ranksDone++;
                finished[status.Source] = true;
                break;
            case Messages.Progress:
                break;
            default:
                throw new MpiException($"Rank {status.Source} sent a message with tag {status.Tag}, which no rank sends.");
        }
    }

    /// <summary>Rank 0, after its own part: serves the others until each is done (or a deadline passes), then checks that nothing before the end is missing.</summary>
    private void Gather()
    {
        finished[0] = true;
        while (ranksDone < size - 1)
        {
            if (Messages.Probe(NextCheck(), out var status))
            {
                Handle(status);
            }
            CheckDeadlines();
        }
        int end = firstFailure?.Index ?? count;
        int missing = Array.IndexOf(arrived, false, 0, end);
        if (missing >= 0)
        {
            throw new MpiException($"Every rank is done and element {missing} never arrived.");
        }
    }

    /// <summary>A rank other than 0, after its own part: takes the answer to a request made before it stopped, finishes its sends, says it is done.</summary>
    private void Conclude()
    {
        if (replyRequest != Mpich.RequestNull)
        {
            // Asked for before an element failed: the range comes after the failure and is not needed.
            WaitForRankZero(ref replyRequest, "to answer this rank's last request");
        }
        foreach (var (request, buffer) in sending)
        {
            var pending = request;
            WaitForRankZero(ref pending, "to take this rank's results");
            buffer.Dispose();
        }
        sending.Clear();
        Messages.SendInts(0, Messages.Done, []);
    }

    private MpiResults<TResult> Results()
    {
        var received = rank == 0 ? values[..(firstFailure?.Index ?? count)] : null;
        if (options.ResultsOnEveryRank)
        {
            received = Share(received);
        }
        return received is null
            ? new MpiResults<TResult>(count, null, null, rank)
            : new MpiResults<TResult>(count, received, firstFailure is null ? null : new RankFailureException(firstFailure), rank);
    }

    /// <summary>Rank 0 broadcasts its results (those before the failure) and the failure; the others take them.</summary>
    private TResult[] Share(TResult[]? gathered)
    {
        using var length = new NativeBuffer(4);
        NativeBuffer? all = null;
        try
        {
            if (gathered is not null)
            {
                all = Report.Encode(0, gathered, firstFailure, serializer);
                BinaryPrimitives.WriteInt32LittleEndian(length.Span, all.Length);
            }
            if (!Messages.Broadcast(length, mapDeadline))
            {
                throw PastMapTimeout($"rank {rank} waited for rank 0 to share the results");
            }
            all ??= new NativeBuffer(BinaryPrimitives.ReadInt32LittleEndian(length.Span));
            if (!Messages.Broadcast(all, mapDeadline))
            {
                throw PastMapTimeout($"rank {rank} waited for rank 0 to share the results");
            }
            if (gathered is not null)
            {
                return gathered;
            }
            var (_, results, failure) = Report.Decode<TResult>(all, serializer);
            firstFailure = failure;
            return results;
        }
        finally
        {
            all?.Dispose();
        }
    }

    /// <summary>Rank 0: the moment of the next deadline check (the map's deadline, or a rank's silence running out).</summary>
    private Deadline NextCheck()
    {
        var next = Deadline.Earlier(mapDeadline, Deadline.After(MaxServeInterval));
        if (silence is { } quiet)
        {
            for (int r = 0; r < size; r++)
            {
                if (!finished[r])
                {
                    next = Deadline.Earlier(next, Deadline.At(lastHeard[r] + (long)(quiet.TotalSeconds * Stopwatch.Frequency)));
                }
            }
        }
        return next;
    }

    /// <summary>Rank 0: throws, naming the rank, once a rank has been silent too long or the map has run past its deadline.</summary>
    private void CheckDeadlines()
    {
        if (mapDeadline.HasPassed)
        {
            throw PastMapTimeout(string.Join("; ", Enumerable.Range(0, size).Where(r => !finished[r]).Select(Describe)) + " had not finished");
        }
        if (silence is not { } quiet)
        {
            return;
        }
        for (int r = 0; r < size; r++)
        {
            if (!finished[r] && Stopwatch.GetElapsedTime(lastHeard[r]) >= quiet)
            {
                throw new MpiException(
                    $"Rank {r} of {size} has finished no element for {quiet.TotalSeconds:0.###} s (MpiPMapOptions.RankSilenceTimeout): " +
                    $"{Describe(r)} is stuck or stopped (an element that runs without end: set MpiPMapOptions.JobTimeout to bound each).");
            }
        }
    }

    /// <summary>"rank 1, which owes elements from 40", "rank 0 (this rank), at its element 12", for messages.</summary>
    private string Describe(int r) =>
        r == 0 ? (dealt.TryPeek(out var head) ? $"rank 0 (this rank), at its element {head.Start + current.Count}" : "rank 0 (this rank)")
        : owed[r].Count > 0 ? $"rank {r}, which owes elements from {owed[r].Min(c => c.Start)}"
        : $"rank {r}";

    private MpiException PastMapTimeout(string what) => new(
        $"The map across {size} ranks has run past its MpiPMapOptions.MapTimeout of {options.MapTimeout!.Value.TotalSeconds:0.###} s: {what}.");
}
