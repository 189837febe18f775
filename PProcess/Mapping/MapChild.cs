using System.Diagnostics;
using PProcess.Runtime;

namespace PProcess.Mapping;

/// <summary>
/// A map's child: computes chunks and sends each chunk's results as one message (a
/// <c>TResult[]</c>). A kept child serves chunks until the parent says quit: index ranges of the
/// list it inherited, or arrays of elements. A child forked for one chunk computes it and ends. If
/// the selector throws, the results before the failing element are sent, then the exception; the
/// child serves on. Its <see cref="ProgressSlot"/> says which element it is on and how long the
/// chunk took; its <see cref="ChildMemorySlot"/>, after each chunk, what its heap holds and
/// whether it asks to be replaced (<see cref="HeapSharing.Sample"/>, with <paramref name="budget"/>).
/// </summary>
internal sealed class MapChild<T, TResult>(Func<T, TResult> selector, ProgressSlot slot, bool timed, ChildMemorySlot memory, long? budget)
{
    /// <summary>
    /// In the parent, before a map's first fork: compiles this serving loop for the map's types, so
    /// that its children do not each compile it again (docs/fork-safety.md, rule 9).
    /// </summary>
    internal static void Prepare()
    {
        Runtime.ChildPath.PrepareType(typeof(MapChild<T, TResult>), typeof(ArrayElements), typeof(ListElements));
        Runtime.ChildPath.PrepareType(typeof(ArrayElements));
        Runtime.ChildPath.PrepareType(typeof(ListElements));
        Runtime.ChildPath.PrepareType(typeof(ProgressSlot));
        Runtime.ChildPath.PrepareType(typeof(ElementName));
    }

    /// <summary>A kept child over a list: each request is the start and count of an index range.</summary>
    internal void ServeRanges(Channel channel, IReadOnlyList<T> list)
    {
        while (channel.TryReceive(out var request, typeof(long[])))
        {
            if (request is not long[] { Length: 2 } range || range[0] < 0 || range[1] < 0 || range[0] + range[1] > list.Count)
            {
                throw new ChannelProtocolException($"A PMap child expected an index range of its {list.Count} elements, and received {request ?? "null"}.");
            }
            Compute(channel, new ListElements(list, checked((int)range[0])), checked((int)range[1]), list, checked((int)range[0]), range[0]);
        }
    }

    /// <summary>A kept child over an array: as <see cref="ServeRanges(Channel, IReadOnlyList{T})"/>, reading the array directly.</summary>
    internal void ServeRanges(Channel channel, T[] array)
    {
        while (channel.TryReceive(out var request, typeof(long[])))
        {
            if (request is not long[] { Length: 2 } range || range[0] < 0 || range[1] < 0 || range[0] + range[1] > array.Length)
            {
                throw new ChannelProtocolException($"A PMap child expected an index range of its {array.Length} elements, and received {request ?? "null"}.");
            }
            Compute(channel, new ArrayElements(array, checked((int)range[0])), checked((int)range[1]), array, checked((int)range[0]), range[0]);
        }
    }

    /// <summary>A kept child over a source that is not a list: each request is an array of elements, through the serializer.</summary>
    internal void ServeElements(Channel channel)
    {
        while (true)
        {
            object? request;
            try
            {
                if (!channel.TryReceive(out request, typeof(T[])))
                {
                    return;
                }
            }
            catch (ChannelSerializationException unreadable) when (!channel.IsFaulted)
            {
                // The elements do not come back from the serializer: the parent forks for this chunk instead.
                slot.Phase = ChunkPhase.Unreadable;
                channel.Send(Array.Empty<TResult>());
                channel.SendError(unreadable);
                continue;
            }
            var elements = Channel.Cast<T[]>(request, channel) ?? [];
            Compute(channel, new ArrayElements(elements, 0), elements.Length, elements, 0, -1);
        }
    }

    /// <summary>A child forked for one chunk, whose elements it inherited.</summary>
    internal void RunOnce(Channel channel, T[] elements) => Compute(channel, new ArrayElements(elements, 0), elements.Length, elements, 0, -1);

    /// <summary>
    /// Computes a chunk. <paramref name="source"/>, <paramref name="offset"/> and <paramref name="start"/>
    /// (its position in the map, -1 when the child does not know it) name the element being computed
    /// when something asks (<see cref="Fork.CurrentJob"/>).
    /// </summary>
    private void Compute<TElements>(Channel channel, TElements elements, int count, IReadOnlyList<T> source, int offset, long start)
        where TElements : struct, IElements
    {
        current = (source, offset, start);
        Runtime.CurrentJob.Set(name ??= new ElementName(this, selector, slot));
        var results = new TResult[count];
        Exception? failure = null;
        int i = 0;
        slot.Phase = ChunkPhase.Computing;
        long began = Stopwatch.GetTimestamp();
        try
        {
            for (; i < count; i++)
            {
                if (timed)
                {
                    slot.Started = Stopwatch.GetTimestamp();
                }
                slot.Position = i;
                results[i] = selector(elements[i]);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        slot.Elapsed = Stopwatch.GetTimestamp() - began;
        memory.Publish(budget);
        slot.Phase = ChunkPhase.Sending;
        Send(channel, results, i, failure);
    }

    /// <summary>Where the chunk being computed comes from, for its elements' names.</summary>
    private (IReadOnlyList<T> Source, int Offset, long Start) current;

    private ElementName? name;

    /// <summary>The name of the element the child is computing, made when asked: "#7 lambda in Program.Main(7)".</summary>
    private sealed class ElementName(MapChild<T, TResult> child, Func<T, TResult> selector, ProgressSlot slot)
    {
        public override string ToString()
        {
            var (source, offset, start) = child.current;
            long position = slot.Position;
            if (position < 0 || offset + position >= source.Count)
            {
                return Processes.JobNames.Describe(selector);
            }
            var element = Processes.JobNames.Describe(selector, source[(int)(offset + position)]);
            return start >= 0 ? $"#{start + position} {element}" : element;
        }
    }

    /// <summary>The first <paramref name="done"/> results, then the failure of the next element if there is one.</summary>
    private static void Send(Channel channel, TResult[] results, int done, Exception? failure)
    {
        try
        {
            channel.Send(done == results.Length ? results : results[..done]);
        }
        catch (ChannelSerializationException refused) when (!channel.IsFaulted)
        {
            // A result the serializer cannot carry: the failure is that element's.
            var (first, why) = FirstRefused(channel, results, done);
            channel.Send(results[..first]);
            channel.SendError(why ?? refused);
            return;
        }
        if (failure is not null)
        {
            channel.SendError(failure);
        }
    }

    /// <summary>The first result the serializer refuses alone, and why; (0, null) if each passes alone.</summary>
    private static (int Index, Exception? Why) FirstRefused(Channel channel, TResult[] results, int done)
    {
        for (int i = 0; i < done; i++)
        {
            try
            {
                channel.Serializer.Serialize(results[i]);
            }
            catch (Exception e)
            {
                return (i, new ChannelSerializationException(
                    $"The result of type {results[i]?.GetType().FullName ?? "null"} cannot be sent over a channel: {e.Message}", results[i]?.GetType(), e));
            }
        }
        return (0, null);
    }

    /// <summary>Where a chunk's elements are read from; a struct, so that each kind of source gets its own compiled loop.</summary>
    internal interface IElements
    {
        T this[int index] { get; }
    }

    internal readonly struct ArrayElements(T[] array, int offset) : IElements
    {
        public T this[int index] => array[offset + index];
    }

    internal readonly struct ListElements(IReadOnlyList<T> list, int offset) : IElements
    {
        public T this[int index] => list[offset + index];
    }
}
