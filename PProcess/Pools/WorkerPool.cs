namespace PProcess;

/// <summary>A <see cref="WorkerPool{TState}"/> whose workers keep no state of their own.</summary>
public sealed class WorkerPool : WorkerPool<object?>
{
    /// <summary>Forks the workers (<see cref="WorkerPoolOptions.Workers"/>, default <see cref="Cores.Usable"/>).</summary>
    public WorkerPool(WorkerPoolOptions? options = null)
        : base(null, options)
    {
    }
}
