using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;

namespace PProcess.Mapping;

/// <summary>
/// PMapAsync: the synchronous map (either engine) enumerated on a thread of its own, its results
/// handed to an asynchronous consumer through a bounded channel, in source order. The map forks on
/// that thread, which lives exactly as long as the enumeration: a child dies with the thread that
/// forked it (fork-safety fact 15), and an awaiting consumer moves between pool threads that retire.
/// Ending the enumeration, by cancellation, a failure or an early <c>break</c>, cancels the map's
/// token, which kills and reaps its children, and waits (asynchronously) for the thread to end.
/// </summary>
internal static class AsyncMap
{
    /// <summary>Enumerates <paramref name="map"/> (a PMap over the token it is given) on a thread of its own, handing its results to the caller.</summary>
    internal static async IAsyncEnumerable<TResult> Run<TResult>(Func<CancellationToken, IEnumerable<TResult>> map,
        PMapOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int limit = options.Limit ?? Cores.Usable;
        // Enough to keep every child's latest results while the consumer is busy, bounded so that an endless source works.
        var results = System.Threading.Channels.Channel.CreateBounded<TResult>(new BoundedChannelOptions(Math.Max(16, 2 * limit))
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                foreach (var result in map(stop.Token))
                {
                    // Blocking is this thread's job: it has nothing else to do until the consumer takes a result.
                    while (!results.Writer.TryWrite(result))
                    {
                        if (!results.Writer.WaitToWriteAsync(stop.Token).AsTask().GetAwaiter().GetResult())
                        {
                            return;
                        }
                    }
                }
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                results.Writer.TryComplete();
                ended.SetResult();
            }
        })
        { IsBackground = true, Name = "PProcess PMapAsync" };
        thread.Start();
        try
        {
            while (await results.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (results.Reader.TryRead(out var result))
                {
                    yield return result;
                }
            }
        }
        finally
        {
            // Ended here first (a break, a cancelled wait): the map stops, and its children are reaped before the enumeration ends.
            stop.Cancel();
            await ended.Task.ConfigureAwait(false);
        }
        // The results before a failure were yielded; then the failure, as PMap raises it.
        if (failure?.SourceException is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        failure?.Throw();
    }

    /// <summary>An asynchronous source read on the map's thread, which waits for each element.</summary>
    internal static IEnumerable<T> Blocking<T>(IAsyncEnumerable<T> source, CancellationToken cancellationToken)
    {
        var items = source.GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                var next = items.MoveNextAsync();
                if (!(next.IsCompletedSuccessfully ? next.Result : next.AsTask().GetAwaiter().GetResult()))
                {
                    yield break;
                }
                yield return items.Current;
            }
        }
        finally
        {
            var disposed = items.DisposeAsync();
            if (!disposed.IsCompletedSuccessfully)
            {
                disposed.AsTask().GetAwaiter().GetResult();
            }
        }
    }
}
