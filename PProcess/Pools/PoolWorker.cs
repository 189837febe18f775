namespace PProcess.Pools;

/// <summary>The parent's view of one pool worker: its channel and the request it runs, if any.</summary>
internal sealed class PoolWorker(int index, Channel channel)
{
    /// <summary>The slot this worker fills (0 .. workers-1); a replacement takes the dead worker's slot.</summary>
    internal int Index { get; } = index;

    internal Channel Channel { get; } = channel;

    internal PoolRequest? Current { get; set; }

    /// <summary>The jobs the worker has run (<see cref="WorkerPoolOptions.MaxJobsPerWorker"/>).</summary>
    internal int Jobs { get; set; }

    /// <summary>It asked to be replaced after its job (<see cref="Runtime.HeapSharing"/>): a fresh fork takes its slot when one can be made.</summary>
    internal bool Retiring { get; set; }
}
