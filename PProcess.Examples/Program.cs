using PProcess.Examples;
using PProcess.Examples.Programs;

// pprocess's example programs. Usage: PProcess.Examples <name> [--delay SECONDS] [--limit N]
var examples = new SortedDictionary<string, (string Description, Action<Options> Run)>
{
    ["chaos"] = ("a map while a thread SIGKILLs a random child every few ms: retries, outcomes, a pool: [--count N] [--work-us U] [--every-ms M] [--retries R]", Chaos.Run),
    ["child_threads"] = ("the runtime's threads in a parent that used the pool, a timer, sockets and Process, and in its child", ChildThreads.Run),
    ["fork_cost"] = ("measures a fork round trip and the child's JIT work: fork_cost [COUNT] [jit]", ForkCost.Run),
    ["pmap_progress"] = ("a long PMap with a progress bar (Spectre.Console) fed by PMapOptions.Progress: [--count N] [--ms M]", PMapProgressBar.Run),
    ["pmap_chunks"] = ("PMap's default engine vs PLINQ on 10^6 trivial elements and 10^4 of 100 µs, and a fork per element: [--rounds N]", PMapChunks.Run),
    ["simple"] = ("sequential: nested loops fill the table, for comparison", Simple.Run),
    ["simple1"] = ("sequential: results appended to a list", Simple1.Run),
    ["simple2"] = ("sequential: a function returning (i, j, result)", Simple2.Run),
    ["simple_map"] = ("sequential: Select over the sequence of cells (the twin of simple_pmap)", SimpleMap.Run),
    ["simple_pmap"] = ("PMap over the cells, printed a row at a time", SimplePMap.Run),
    ["simple_pmap_iter"] = ("PMap's results printed as the iteration yields them", SimplePMapIter.Run),
    ["simple_start"] = ("Exchange.Start with a StoreData override", SimpleStart.Run),
    ["simple_start_queue"] = ("ResultQueue.Start: results in arrival order", SimpleStartQueue.Run),
    ["simple_create"] = ("Exchange.Create: the work inline in the child", SimpleCreate.Run),
    ["simple_create_map"] = ("Map.Create: rows printed as slices of the Map", SimpleCreateMap.Run),
    ["simple_create_queue"] = ("ResultQueue.Create: the child sends (i, j, result)", SimpleCreateQueue.Run),
    ["simple_managed"] = ("Exchange.Manage(MakeParallel(f)) with a StoreData override", SimpleManaged.Run),
    ["simple_managed_map"] = ("Map.Manage(MakeParallel(f)): results in job order", SimpleManagedMap.Run),
    ["simple_managed_queue"] = ("ResultQueue.Manage(MakeParallel(f)): results in arrival order", SimpleManagedQueue.Run),
    ["simple_managed_map_reusable"] = ("Map with reuse and MakeReusable: --limit children serve every job", SimpleManagedMapReusable.Run),
    ["simple_continuous_queue"] = ("continuous ResultQueue: each child sends a whole row", SimpleContinuousQueue.Run),
    ["simple_mutation"] = ("sequential: the function writes into the shared table", SimpleMutation.Run),
    ["simple_mutation_queue"] = ("the same in children: the parent's table stays empty", SimpleMutationQueue.Run),
    ["simple_persistent_managed"] = ("PersistentExchange.Manage(address, f): a background process per row; --start, then --reconnect [--socket-dir DIR]", SimplePersistentManaged.Run),
    ["simple_background_queue"] = ("BackgroundCallable runs a ResultQueue in the background; BackgroundQueue collects; --start / --reconnect [--socket-dir DIR]", SimpleBackgroundQueue.Run),
    ["simple_persistent_queue"] = ("PersistentQueue.Manage(address, MakeParallel(f)): a background process per cell; --start / --reconnect [--socket-dir DIR]", SimplePersistentQueue.Run),
    ["fork_soak"] = ("fork-per-job jobs from a parent that used the pool, from 1 thread then 4, no timeout: [--forks N] [--threaded N] [--stall S]", ForkSoak.Run),
    ["soak"] = ("many jobs through reusable and forked children; descriptors, children and memory sampled: [--reused N] [--forks N]", Soak.Run),
    ["raytracer"] = ("PyGmy's 300x200 scene, one job per row, to a PNG: raytracer [--variant NAME] [--output PATH] [--mpi: across MPI ranks]", Raytracer.Run),
    ["bottles"] = ("nested continuous queues: 3 greps of 3 tail -f followers each: [--lines N] [--dir PATH]", Bottles.Run),
    ["bottles_heartbeat"] = ("bottles driven by Store(timeout), with heartbeats: [--heartbeat MS] [--pause-until-heartbeat]", BottlesHeartbeat.Run),
    ["ordered_pipeline"] = ("parallel-queue: a producer thread puts cells and row markers, a consumer thread prints rows in put order", OrderedPipelineExample.Run),
    ["pipeline_busy"] = ("why the ordered pipeline pre-forks: a computing producer, pre-forked pipeline vs fork per job, side by side", PipelineBusyProducer.Run),
    ["worker_pool"] = ("multicore: a pre-forked pool with per-worker state; ranges sequential vs pool: [--max-load X] [--kill] [--kill-while-spinning]", WorkerPoolExample.Run),
    ["busy_forks"] = ("awaited forks from 16 request loops while 4 tasks keep the pool busy; latency p50/p99: [--loops N] [--forks N] [--busy N] [--timer MS]", BusyForks.Run),
    ["fork_task"] = ("xfork: await Task.WhenAll(ForkTask.Run(...)) vs sequential; Task.Run for IO: [--limit IMAGES] [--delay S]", ForkTaskExample.Run),
    ["start_indexer"] = ("a window of parser children index a directory; prefix search: [DIR] [--slice N] [--query P]", StartIndexer.Run),
};

if (args.Length == 0 || args[0] is "list" or "--help" or "-h")
{
    Console.WriteLine("usage: PProcess.Examples <name> [--delay SECONDS] [--limit N]   (defaults: --delay 1 --limit 10)");
    Console.WriteLine("examples:");
    foreach (var (name, (description, _)) in examples)
    {
        Console.WriteLine($"  {name,-28} {description}");
    }
    return args.Length == 0 ? 2 : 0;
}

if (!examples.TryGetValue(args[0], out var example))
{
    Console.Error.WriteLine($"no example named '{args[0]}'; 'list' shows them.");
    return 2;
}

try
{
    example.Run(Options.Parse(args[1..]));
    return 0;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
