using System.Runtime.CompilerServices;

namespace PProcess.Tasks;

/// <summary>
/// Asynchronous work in a child: an async selector or function is awaited there, by the child's
/// own thread pool (fork-safety rule 4), and only its result crosses back. And the refusals: a
/// synchronous API given asynchronous work (a function whose result is a task, an <c>async</c>
/// lambda where an <c>Action</c> is expected) says so at the call, instead of failing in the child
/// when the task reaches the serializer (a System.Text.Json message about <c>ExecutionContext&amp;</c>)
/// or ending the child at the lambda's first <c>await</c>.
/// </summary>
internal static class AsyncJobs
{
    /// <summary>Throws when <typeparamref name="TResult"/> is a task: <paramref name="api"/> is synchronous and would send the task itself.</summary>
    internal static void RefuseTaskResult<TResult>(string api, string instead)
    {
        if (IsAwaitable(typeof(TResult)))
        {
            throw new ArgumentException(
                $"{api} was given a function that returns a {TypeName(typeof(TResult))}: it is asynchronous, and a task cannot cross to the parent. " +
                $"{instead}", "function");
        }
    }

    /// <summary>
    /// Throws when <paramref name="job"/> is asynchronous and <paramref name="api"/> would not await
    /// it: a function that returns a task (its task would be sent, not its result), or an
    /// <c>async void</c> lambda or method (the child would end at its first <c>await</c>).
    /// </summary>
    internal static void RefuseAsync(Delegate job, string api)
    {
        var method = job.Method;
        if (IsAwaitable(method.ReturnType))
        {
            throw new ArgumentException(
                $"{api} was given a function that returns a {TypeName(method.ReturnType)}: it is asynchronous, and a task cannot cross to the parent. " +
                AsyncInstead, nameof(job));
        }
        if (method.ReturnType == typeof(void) && method.IsDefined(typeof(AsyncStateMachineAttribute), inherit: false))
        {
            throw new ArgumentException(
                $"{api} was given an async void lambda or method: the child would end at its first await, before the rest of it ran. " +
                AsyncInstead, nameof(job));
        }
    }

    private const string AsyncInstead =
        "Asynchronous work is awaited in the child by PMap and PMapAsync (an async selector) and by ForkTask.Run (an async function); " +
        "elsewhere, wait for it in the child (work().GetAwaiter().GetResult()) and send its result.";

    /// <summary>Task, ValueTask, Task&lt;T&gt;, ValueTask&lt;T&gt;, or an IAsyncEnumerable.</summary>
    internal static bool IsAwaitable(Type type) =>
        typeof(Task).IsAssignableFrom(type) || type == typeof(ValueTask)
        || type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(ValueTask<>) || type.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>))
        || type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IAsyncEnumerable<>));

    private static string TypeName(Type type) =>
        type.IsGenericType ? $"{type.Name[..type.Name.IndexOf('`')]}<{string.Join(", ", type.GetGenericArguments().Select(TypeName))}>" : type.Name;

    /// <summary>In the child: the result of a task, waited for by this thread while the child's pool runs its continuations.</summary>
    internal static TResult Await<TResult>(Task<TResult> task) => task.GetAwaiter().GetResult();

    /// <summary>As <see cref="Await{TResult}(Task{TResult})"/>, for a value task (completed ones without allocating).</summary>
    internal static TResult Await<TResult>(ValueTask<TResult> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();
}

/// <summary>
/// An async selector as the synchronous one the map engines run: the element's task awaited in the
/// child. A class of its own, so that the job's name is the user's selector (<see cref="Processes.JobNames"/>)
/// and the user's code is compiled in the parent before the fork (fork-safety rule 9).
/// </summary>
internal sealed class AwaitedSelector<T, TResult> : Processes.IWrappedJob
{
    private readonly Func<T, Task<TResult>>? task;
    private readonly Func<T, ValueTask<TResult>>? valueTask;

    internal AwaitedSelector(Func<T, Task<TResult>> selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        task = selector;
        Runtime.ChildPath.Prepare(selector);
    }

    internal AwaitedSelector(Func<T, ValueTask<TResult>> selector)
    {
        ArgumentNullException.ThrowIfNull(selector);
        valueTask = selector;
        Runtime.ChildPath.Prepare(selector);
    }

    public Delegate Inner => (Delegate?)task ?? valueTask!;

    internal TResult Invoke(T element) => task is not null ? AsyncJobs.Await(task(element)) : AsyncJobs.Await(valueTask!(element));
}
