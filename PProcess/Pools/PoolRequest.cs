namespace PProcess.Pools;

/// <summary>A submitted job waiting for a worker or for its result, with the way to complete its task.</summary>
internal sealed class PoolRequest(PoolJob job, object? arguments, bool withState, Type resultType, Action<object?, Channel> complete, Action<Exception> fail)
{
    /// <summary>The type the job's result is received as: only it (and the shapes it holds) is built from the worker's message.</summary>
    internal Type ResultType { get; } = resultType;

    internal PoolJob Job { get; } = job;

    internal object? Arguments { get; } = arguments;

    /// <summary>True when the job's first parameter is the worker's state.</summary>
    internal bool WithState { get; } = withState;

    /// <summary>The failures of its earlier attempts (<see cref="WorkerPoolOptions.Retries"/>), or null.</summary>
    internal List<Exception>? Attempts { get; set; }

    internal void Complete(object? value, Channel from) => complete(value, from);

    internal void Fail(Exception error) => fail(error);
}
