using PProcess.Exchanges;

namespace PProcess;

/// <summary>
/// A job without arguments made by <see cref="Exchange.MakeParallel{TResult}(Func{TResult})"/>: its
/// child sends the function's return value. Start it with an exchange's Start or Manage.
/// </summary>
public sealed class ParallelJob : IParallelJob
{
    internal ParallelJob(Action<Channel> body, Delegate function) => (Body, Function) = (body, function);

    /// <summary>Always false: only jobs with arguments can be reused.</summary>
    public bool IsReusable => false;

    internal Action<Channel> Body { get; }

    /// <inheritdoc cref="IParallelJob.Function"/>
    public Delegate Function { get; }
}

/// <summary>A job of one argument made by MakeParallel or MakeReusable; see <see cref="ParallelJob"/>.</summary>
public sealed class ParallelJob<T1> : IParallelJob
{
    internal ParallelJob(Action<Channel, T1> body, Delegate function, bool reusable) => (Body, Function, IsReusable) = (body, function, reusable);

    /// <summary>True for a MakeReusable job: in an exchange with <see cref="ExchangeOptions.Reuse"/>, its children serve further jobs of it.</summary>
    public bool IsReusable { get; }

    /// <summary>The plain function the job wraps.</summary>
    public Delegate Function { get; }

    internal Action<Channel, T1> Body { get; }
}

/// <summary>A job of two arguments made by MakeParallel or MakeReusable; see <see cref="ParallelJob"/>.</summary>
public sealed class ParallelJob<T1, T2> : IParallelJob
{
    internal ParallelJob(Action<Channel, T1, T2> body, Delegate function, bool reusable) => (Body, Function, IsReusable) = (body, function, reusable);

    /// <inheritdoc cref="ParallelJob{T1}.IsReusable"/>
    public bool IsReusable { get; }

    /// <summary>The plain function the job wraps.</summary>
    public Delegate Function { get; }

    internal Action<Channel, T1, T2> Body { get; }
}

/// <summary>A job of three arguments made by MakeParallel or MakeReusable; see <see cref="ParallelJob"/>.</summary>
public sealed class ParallelJob<T1, T2, T3> : IParallelJob
{
    internal ParallelJob(Action<Channel, T1, T2, T3> body, Delegate function, bool reusable) => (Body, Function, IsReusable) = (body, function, reusable);

    /// <inheritdoc cref="ParallelJob{T1}.IsReusable"/>
    public bool IsReusable { get; }

    /// <summary>The plain function the job wraps.</summary>
    public Delegate Function { get; }

    internal Action<Channel, T1, T2, T3> Body { get; }
}
