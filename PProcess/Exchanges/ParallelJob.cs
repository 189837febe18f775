using PProcess.Exchanges;

namespace PProcess;

/// <summary>
/// A job without arguments made by <see cref="Exchange.MakeParallel{TResult}(Func{TResult})"/>: its
/// child sends the function's return value. Start it with an exchange's Start or Manage.
/// </summary>
public sealed class ParallelJob : IParallelJob
{
    internal ParallelJob(Action<Channel> body, Delegate function)
    {
        Tasks.AsyncJobs.RefuseAsync(function, "MakeParallel");
        (Body, Function) = (body, function);
    }

    /// <summary>Always false: only jobs with arguments can be reused.</summary>
    public bool IsReusable => false;

    internal Action<Channel> Body { get; }

    /// <inheritdoc cref="IParallelJob.Function"/>
    public Delegate Function { get; }

    Action<Channel> IParallelJob.BodyFor(object?[] args) => Body;

    object? IParallelJob.MessageFor(object?[] args) => null;
}

/// <summary>A job of one argument made by MakeParallel or MakeReusable; see <see cref="ParallelJob"/>.</summary>
public sealed class ParallelJob<T1> : IParallelJob
{
    internal ParallelJob(Action<Channel, T1> body, Delegate function, bool reusable)
    {
        Tasks.AsyncJobs.RefuseAsync(function, reusable ? "MakeReusable" : "MakeParallel");
        (Body, Function, IsReusable) = (body, function, reusable);
    }

    /// <summary>True for a MakeReusable job: in an exchange with <see cref="ExchangeOptions.Reuse"/>, its children serve further jobs of it.</summary>
    public bool IsReusable { get; }

    /// <summary>The plain function the job wraps.</summary>
    public Delegate Function { get; }

    internal Action<Channel, T1> Body { get; }

    Action<Channel> IParallelJob.BodyFor(object?[] args)
    {
        var arg1 = (T1)args[0]!;
        return c => Body(c, arg1);
    }

    object? IParallelJob.MessageFor(object?[] args) => args[0];
}

/// <summary>A job of two arguments made by MakeParallel or MakeReusable; see <see cref="ParallelJob"/>.</summary>
public sealed class ParallelJob<T1, T2> : IParallelJob
{
    internal ParallelJob(Action<Channel, T1, T2> body, Delegate function, bool reusable)
    {
        Tasks.AsyncJobs.RefuseAsync(function, reusable ? "MakeReusable" : "MakeParallel");
        (Body, Function, IsReusable) = (body, function, reusable);
    }

    /// <inheritdoc cref="ParallelJob{T1}.IsReusable"/>
    public bool IsReusable { get; }

    /// <summary>The plain function the job wraps.</summary>
    public Delegate Function { get; }

    internal Action<Channel, T1, T2> Body { get; }

    Action<Channel> IParallelJob.BodyFor(object?[] args)
    {
        var (arg1, arg2) = ((T1)args[0]!, (T2)args[1]!);
        return c => Body(c, arg1, arg2);
    }

    object? IParallelJob.MessageFor(object?[] args) => ((T1)args[0]!, (T2)args[1]!);
}

/// <summary>A job of three arguments made by MakeParallel or MakeReusable; see <see cref="ParallelJob"/>.</summary>
public sealed class ParallelJob<T1, T2, T3> : IParallelJob
{
    internal ParallelJob(Action<Channel, T1, T2, T3> body, Delegate function, bool reusable)
    {
        Tasks.AsyncJobs.RefuseAsync(function, reusable ? "MakeReusable" : "MakeParallel");
        (Body, Function, IsReusable) = (body, function, reusable);
    }

    /// <inheritdoc cref="ParallelJob{T1}.IsReusable"/>
    public bool IsReusable { get; }

    /// <summary>The plain function the job wraps.</summary>
    public Delegate Function { get; }

    internal Action<Channel, T1, T2, T3> Body { get; }

    Action<Channel> IParallelJob.BodyFor(object?[] args)
    {
        var (arg1, arg2, arg3) = ((T1)args[0]!, (T2)args[1]!, (T3)args[2]!);
        return c => Body(c, arg1, arg2, arg3);
    }

    object? IParallelJob.MessageFor(object?[] args) => ((T1)args[0]!, (T2)args[1]!, (T3)args[2]!);
}
