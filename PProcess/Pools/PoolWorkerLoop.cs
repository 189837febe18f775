using PProcess.Runtime;

namespace PProcess.Pools;

/// <summary>
/// What a pool worker runs after its fork: the initializer once (its state lives as long as the
/// worker), a "ready" message, then for each request the arguments and the job's id, answered by
/// the job's result or its exception. It ends when the parent closes the channel, disposing the
/// state if it is <see cref="IDisposable"/>. Before each answer it writes what its heap holds to
/// its <see cref="ChildMemorySlot"/> (<see cref="HeapSharing.Sample"/>).
/// </summary>
internal static class PoolWorkerLoop
{
    internal const string Ready = "pprocess-pool-worker-ready";

    internal static void Serve<TState>(Channel channel, int index, Func<int, TState>? initializer, ChildMemorySlot memory, long? budget)
    {
        TState state = initializer is null ? default! : initializer(index);
        try
        {
            channel.Send(Ready);
            var withState = new object?[2];
            var withoutState = new object?[1];
            while (channel.TryReceive(out var arguments))
            {
                var id = channel.Receive<string>();
                object? result;
                try
                {
                    var job = PoolJob.Resolve(id[1..]);
                    object?[] call;
                    if (id[0] == 'S')
                    {
                        withState[0] = state;
                        withState[1] = arguments;
                        call = withState;
                    }
                    else
                    {
                        withoutState[0] = arguments;
                        call = withoutState;
                    }
                    result = job.Invoke(call);
                }
                catch (Exception e) when (e is not IOException && !channel.IsFaulted)
                {
                    memory.Publish(budget);
                    channel.SendError(e);
                    continue;
                }
                memory.Publish(budget);
                try
                {
                    channel.Send(result);
                }
                catch (ChannelSerializationException e)
                {
                    channel.SendError(e);
                }
            }
        }
        finally
        {
            (state as IDisposable)?.Dispose();
        }
    }
}
