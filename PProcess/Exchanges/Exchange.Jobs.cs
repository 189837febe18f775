using PProcess.Exchanges;

namespace PProcess;

public partial class Exchange
{
    /// <summary>
    /// Starts a child running <paramref name="callable"/> with its channel; if the exchange is busy,
    /// queues the job and returns at once. The child sends its results on the channel.
    /// </summary>
    public void Start(Action<Channel> callable) =>
        Enqueue(callable, null, callable);

    /// <summary>Like <see cref="Start(Action{Channel})"/>, passing one argument.</summary>
    public void Start<T1>(Action<Channel, T1> callable, T1 arg1) =>
        Enqueue(callable, null, c => callable(c, arg1), arg1);

    /// <summary>Like <see cref="Start(Action{Channel})"/>, passing two arguments.</summary>
    public void Start<T1, T2>(Action<Channel, T1, T2> callable, T1 arg1, T2 arg2) =>
        Enqueue(callable, null, c => callable(c, arg1, arg2), arg1, arg2);

    /// <summary>Like <see cref="Start(Action{Channel})"/>, passing three arguments.</summary>
    public void Start<T1, T2, T3>(Action<Channel, T1, T2, T3> callable, T1 arg1, T2 arg2, T3 arg3) =>
        Enqueue(callable, null, c => callable(c, arg1, arg2, arg3), arg1, arg2, arg3);

    /// <summary>Starts a job made by <see cref="MakeParallel{TResult}(Func{TResult})"/>; its child sends the function's result.</summary>
    public void Start(ParallelJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        Enqueue(job.Body, job, null);
    }

    /// <summary>
    /// Starts a job made by MakeParallel or MakeReusable with its argument. A reusable job's queued
    /// arguments may go to an idle child of the same job (<see cref="ExchangeOptions.Reuse"/>).
    /// </summary>
    public void Start<T1>(ParallelJob<T1> job, T1 arg1)
    {
        ArgumentNullException.ThrowIfNull(job);
        Enqueue(job.Body, job, null, arg1);
    }

    /// <inheritdoc cref="Start{T1}(ParallelJob{T1}, T1)"/>
    public void Start<T1, T2>(ParallelJob<T1, T2> job, T1 arg1, T2 arg2)
    {
        ArgumentNullException.ThrowIfNull(job);
        Enqueue(job.Body, job, null, arg1, arg2);
    }

    /// <inheritdoc cref="Start{T1}(ParallelJob{T1}, T1)"/>
    public void Start<T1, T2, T3>(ParallelJob<T1, T2, T3> job, T1 arg1, T2 arg2, T3 arg3)
    {
        ArgumentNullException.ThrowIfNull(job);
        Enqueue(job.Body, job, null, arg1, arg2, arg3);
    }

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action Manage(Action<Channel> callable) => () => Start(callable);

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action<T1> Manage<T1>(Action<Channel, T1> callable) => a1 => Start(callable, a1);

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action<T1, T2> Manage<T1, T2>(Action<Channel, T1, T2> callable) => (a1, a2) => Start(callable, a1, a2);

    /// <summary>Returns a function that starts <paramref name="callable"/> in this exchange each time it is called.</summary>
    public Action<T1, T2, T3> Manage<T1, T2, T3>(Action<Channel, T1, T2, T3> callable) =>
        (a1, a2, a3) => Start(callable, a1, a2, a3);

    /// <summary>pprocess's manage: a function that starts <paramref name="job"/> in this exchange each time it is called.</summary>
    public Action Manage(ParallelJob job) => () => Start(job);

    /// <inheritdoc cref="Manage(ParallelJob)"/>
    public Action<T1> Manage<T1>(ParallelJob<T1> job) => a1 => Start(job, a1);

    /// <inheritdoc cref="Manage(ParallelJob)"/>
    public Action<T1, T2> Manage<T1, T2>(ParallelJob<T1, T2> job) => (a1, a2) => Start(job, a1, a2);

    /// <inheritdoc cref="Manage(ParallelJob)"/>
    public Action<T1, T2, T3> Manage<T1, T2, T3>(ParallelJob<T1, T2, T3> job) => (a1, a2, a3) => Start(job, a1, a2, a3);

    /// <summary>
    /// pprocess's MakeParallel: turns a plain function into a job for Start or Manage whose child
    /// sends the function's return value as its one result.
    /// </summary>
    public static ParallelJob MakeParallel<TResult>(Func<TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new ParallelJob(c => c.Send(function()), function);
    }

    /// <inheritdoc cref="MakeParallel{TResult}(Func{TResult})"/>
    public static ParallelJob<T1> MakeParallel<T1, TResult>(Func<T1, TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new ParallelJob<T1>((c, a1) => c.Send(function(a1)), function, reusable: false);
    }

    /// <inheritdoc cref="MakeParallel{TResult}(Func{TResult})"/>
    public static ParallelJob<T1, T2> MakeParallel<T1, T2, TResult>(Func<T1, T2, TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new ParallelJob<T1, T2>((c, a1, a2) => c.Send(function(a1, a2)), function, reusable: false);
    }

    /// <inheritdoc cref="MakeParallel{TResult}(Func{TResult})"/>
    public static ParallelJob<T1, T2, T3> MakeParallel<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new ParallelJob<T1, T2, T3>((c, a1, a2, a3) => c.Send(function(a1, a2, a3)), function, reusable: false);
    }

    /// <summary>
    /// pprocess's MakeReusable: like <see cref="MakeParallel{T1, TResult}"/>, but in an exchange with
    /// <see cref="ExchangeOptions.Reuse"/> a child that has sent its result stays alive, receives the
    /// arguments of the next queued job of the same job object over its channel (through the
    /// serializer, so they must be serialisable), and answers it, until it is told to quit. An
    /// exception thrown by one job is that job's error; the child goes on. In an exchange without
    /// reuse, each job gets a child of its own, as with MakeParallel.
    /// </summary>
    public static ParallelJob<T1> MakeReusable<T1, TResult>(Func<T1, TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new ParallelJob<T1>((c, a1) => ReusableChild.Serve(c, a1, (ch, a) => ch.Send(function(a))), function, reusable: true);
    }

    /// <inheritdoc cref="MakeReusable{T1, TResult}(Func{T1, TResult})"/>
    public static ParallelJob<T1, T2> MakeReusable<T1, T2, TResult>(Func<T1, T2, TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new ParallelJob<T1, T2>(
            (c, a1, a2) => ReusableChild.Serve(c, (a1, a2), (ch, a) => ch.Send(function(a.Item1, a.Item2))), function, reusable: true);
    }

    /// <inheritdoc cref="MakeReusable{T1, TResult}(Func{T1, TResult})"/>
    public static ParallelJob<T1, T2, T3> MakeReusable<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        return new ParallelJob<T1, T2, T3>(
            (c, a1, a2, a3) => ReusableChild.Serve(c, (a1, a2, a3), (ch, a) => ch.Send(function(a.Item1, a.Item2, a.Item3))),
            function, reusable: true);
    }
}
