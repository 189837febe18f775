using System.Runtime.ExceptionServices;

namespace PProcess;

/// <summary>
/// What became of one element of a map that goes on past failures
/// (<see cref="PMapExtensions.PMapOutcomes{T, TResult}(IEnumerable{T}, Func{T, TResult}, PMapOptions?, CancellationToken)"/>,
/// <see cref="WorkerPool{TState}.MapOutcomes{TArgs, TResult}(Func{TArgs, TResult}, IEnumerable{TArgs})"/>):
/// its result, or the exception that ended it (a <see cref="RemoteException"/> with the child's
/// stack, a <see cref="ChildExitedException"/>, a <see cref="ChildTimeoutException"/>, or a
/// <see cref="RetriesExhaustedException"/> listing every attempt).
/// </summary>
/// <typeparam name="T">The type of the result.</typeparam>
public readonly struct Outcome<T>
{
    private readonly T value;

    internal Outcome(long index, T value)
    {
        Index = index;
        this.value = value;
        Exception = null;
    }

    internal Outcome(long index, Exception exception)
    {
        Index = index;
        value = default!;
        Exception = exception;
    }

    /// <summary>The element's position in the source, from 0.</summary>
    public long Index { get; }

    /// <summary>True when the element has a result.</summary>
    public bool Succeeded => Exception is null;

    /// <summary>The element's failure, or null when it has a result.</summary>
    public Exception? Exception { get; }

    /// <summary>The element's result; for a failed element, its <see cref="Exception"/> is raised.</summary>
    public T Value
    {
        get
        {
            if (Exception is not null)
            {
                ExceptionDispatchInfo.Throw(Exception);
            }
            return value;
        }
    }

    /// <summary>"#7: 49", or "#8 failed: ..." with the exception's message.</summary>
    public override string ToString() => Exception is null ? $"#{Index}: {value}" : $"#{Index} failed: {Exception.Message}";
}
