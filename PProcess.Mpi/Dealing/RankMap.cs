using System.Buffers.Binary;
using PProcess.Mpi.Native;
using PProcess.Serialization;

namespace PProcess.Mpi.Dealing;

/// <summary>
/// One rank's part of a map across ranks. Every rank runs one local PMap over a stream of source
/// indices; the stream is fed with the ranges dealt to the rank, so the rank's children stay busy
/// across ranges. Rank 0 deals (on request) and gathers: it answers the other ranks whenever its
/// own stream is read or one of its results arrives, and at the end until every rank is done; it is
/// the forking thread, so no other thread of it ever calls MPI or runs at a fork. The other ranks
/// ask for their next range as soon as they start one (so that the answer is there when they need
/// it), hand over each range's results as soon as they are all in, and say when they are done.
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
        if (rank == 0)
        {
            values = new TResult[count];
            arrived = new bool[count];
            dealer = options.Deal == MpiDeal.Dynamic ? new RangeDealer(count, size, options.ChunkSize) : null;
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
        Messages.Broadcast(shape);
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
        var stream = Indices().Select(i => source[i]).PMap(selector, options.ToPMapOptions());
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
            catch (Exception e) when (e is not Fatal)
            {
                if (!dealt.TryPeek(out var chunk))
                {
                    throw new Fatal(e);
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
            if (rank == 0)
            {
                Serve();
            }
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
            throw new Fatal(e);
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
        Messages.Wait(ref replyRequest);
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
        replyRequest = Messages.StartReceive(reply, 0, Messages.Reply);
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

    /// <summary>Rank 0: answers every message already waiting, without waiting for more.</summary>
    private void Serve()
    {
        while (Messages.TryProbe(out var status))
        {
            Handle(status);
        }
    }

    private void Handle(in Mpich.Status status)
    {
        using var message = Messages.Receive(status);
        switch (status.Tag)
        {
            case Messages.Request:
                var chunk = dealer?.Take(BinaryPrimitives.ReadInt32LittleEndian(message.Span));
                Messages.SendInts(status.Source, Messages.Reply, [chunk?.Start ?? 0, chunk?.Count ?? 0]);
                break;
            case Messages.Result:
                var (start, results, failure) = Report.Decode<TResult>(message, serializer);
                Store(start, results, failure);
                break;
            case Messages.Done:
                ranksDone++;
                break;
            default:
                throw new MpiException($"Rank {status.Source} sent a message with tag {status.Tag}, which no rank sends.");
        }
    }

    /// <summary>Rank 0, after its own part: serves the others until each is done, then checks that nothing before the end is missing.</summary>
    private void Gather()
    {
        while (ranksDone < size - 1)
        {
            Handle(Messages.Probe());
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
            Messages.Wait(ref replyRequest);
        }
        foreach (var (request, buffer) in sending)
        {
            var pending = request;
            Messages.Wait(ref pending);
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
            Messages.Broadcast(length);
            all ??= new NativeBuffer(BinaryPrimitives.ReadInt32LittleEndian(length.Span));
            Messages.Broadcast(all);
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

    /// <summary>A failure of the map itself (MPI, a malformed message), as opposed to an element's: it ends the job.</summary>
    internal sealed class Fatal(Exception inner) : Exception(inner.Message, inner);
}
