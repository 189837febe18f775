using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace PProcess.Pools;

/// <summary>
/// A job's function as a worker can find it again: the workers were forked before the job
/// existed, so a job cannot travel as a closure, only as the name of a method that every worker
/// has (the assembly, the method's metadata token) plus serialisable arguments. Static methods
/// and lambdas that capture nothing (the compiler puts those on a singleton, <c>&lt;&gt;c.&lt;&gt;9</c>)
/// qualify; a lambda that captures variables does not.
/// </summary>
internal sealed class PoolJob
{
    private static readonly ConcurrentDictionary<MethodInfo, PoolJob> ByMethod = new();
    private static readonly ConcurrentDictionary<string, PoolJob> ById = new();

    private PoolJob(MethodInfo method, object? target, string id)
    {
        Method = method;
        Target = target;
        Id = id;
    }

    internal MethodInfo Method { get; }

    /// <summary>Null for a static method; the compiler's singleton for a lambda that captures nothing.</summary>
    internal object? Target { get; }

    /// <summary>"assembly full name|metadata token": what crosses to the worker.</summary>
    internal string Id { get; }

    internal string Name => $"{Method.DeclaringType?.Name}.{Method.Name}";

    /// <summary>The job a delegate names, or an <see cref="ArgumentException"/> saying why it cannot be sent.</summary>
    internal static PoolJob Of(Delegate function, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(function, parameterName);
        Tasks.AsyncJobs.RefuseAsync(function, "A worker pool");
        var method = function.Method;
        if (ByMethod.TryGetValue(method, out var known))
        {
            return known;
        }
        if (function.GetInvocationList().Length != 1)
        {
            throw new ArgumentException("A pool job must be one method, not a multicast delegate.", parameterName);
        }
        if (method.IsGenericMethod || method.DeclaringType is null || method.DeclaringType.ContainsGenericParameters || method.DeclaringType.IsGenericType)
        {
            throw new ArgumentException($"A pool job cannot be a generic method or a method of a generic type ({method.DeclaringType?.Name}.{method.Name}).", parameterName);
        }
        object? target = null;
        if (method.IsStatic && function.Target is not null)
        {
            throw new ArgumentException(
                $"A pool job cannot be a static method bound to a first argument ({method.DeclaringType.Name}.{method.Name}): pass that value as an argument.", parameterName);
        }
        if (!method.IsStatic)
        {
            target = Singleton(method.DeclaringType);
            if (target is null || !ReferenceEquals(target, function.Target))
            {
                throw new ArgumentException(
                    $"A pool job must be a static method or a lambda that captures nothing: {method.DeclaringType.Name}.{method.Name} " +
                    "has a target object. The workers were forked before this job existed, so only the method's name and the " +
                    "arguments (serialised) reach them; pass what the lambda captures as arguments.", parameterName);
            }
        }
        var job = new PoolJob(method, target, $"{method.Module.Assembly.FullName}|{method.MetadataToken}");
        ById.TryAdd(job.Id, job);
        return ByMethod.GetOrAdd(method, job);
    }

    /// <summary>In a worker: the job an id names.</summary>
    internal static PoolJob Resolve(string id)
    {
        if (ById.TryGetValue(id, out var known))
        {
            return known;
        }
        int bar = id.LastIndexOf('|');
        if (bar < 0 || !int.TryParse(id.AsSpan(bar + 1), out int token))
        {
            throw new ChannelProtocolException($"Not a pool job id: '{id}'.");
        }
        var assembly = Assembly.Load(id[..bar]);
        var method = assembly.ManifestModule.ResolveMethod(token) as MethodInfo
            ?? assembly.GetModules().Select(m => TryResolve(m, token)).FirstOrDefault(m => m is not null)
            ?? throw new ChannelProtocolException($"No method with token {token} in {assembly.GetName().Name}.");
        var job = new PoolJob(method, method.IsStatic ? null : Singleton(method.DeclaringType!), id);
        return ById.GetOrAdd(id, job);
    }

    private static MethodInfo? TryResolve(Module module, int token)
    {
        try
        {
            return module.ResolveMethod(token) as MethodInfo;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The compiler's singleton instance of a closure class without captured state (<c>&lt;&gt;9</c>), or null.</summary>
    private static object? Singleton(Type type) =>
        type.IsDefined(typeof(CompilerGeneratedAttribute), false)
            ? type.GetField("<>9", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)?.GetValue(null)
            : null;

    /// <summary>Calls the job; an exception it throws is rethrown as itself, not wrapped.</summary>
    internal object? Invoke(object?[] arguments)
    {
        try
        {
            return Method.Invoke(Target, arguments);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
