using PProcess.Examples;
using PProcess.Examples.Programs;

// pprocess's example programs. Usage: PProcess.Examples <name> [--delay SECONDS] [--limit N]
var examples = new SortedDictionary<string, (string Description, Action<Options> Run)>
{
    ["simple"] = ("the sequential 10x10 table, for comparison", Simple.Run),
    ["simple_start"] = ("Exchange.Start with a StoreData override", SimpleStart.Run),
    ["simple_create"] = ("Exchange.Create: the work inline in the child", SimpleCreate.Run),
    ["fork_cost"] = ("measures a fork round trip and the child's JIT work: fork_cost [COUNT]", ForkCost.Run),
    ["simple_managed"] = ("Exchange.Manage: a function that starts a child per call", SimpleManaged.Run),
    ["bottles"] = ("nested continuous queues: 3 greps of 3 tail -f followers each: [--lines N] [--dir PATH]", Bottles.Run),
    ["bottles_heartbeat"] = ("bottles driven by Store(timeout), with heartbeats: [--heartbeat MS] [--pause-until-heartbeat]", BottlesHeartbeat.Run),
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
