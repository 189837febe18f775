using Microsoft.Extensions.Hosting;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using PProcess;
using PProcess.WebExample;

// django-multicore's list view in ASP.NET Core: GET /users rendered through a pre-forked worker
// pool whose workers each keep a SQLite connection.
//   serve [--urls http://127.0.0.1:0] [--rows N] [--cost N] [--workers N] [--max-load X] [--stdin-lifetime]
//   bench [--rows N] [--cost N] [--workers N] [--requests N]   latency with and without the pool, side by side
var mode = args.Length > 0 ? args[0] : "serve";
string Option(string name, string fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}
int rows = int.Parse(Option("--rows", "1000"));
int cost = int.Parse(Option("--cost", "200"));
int workers = int.Parse(Option("--workers", Cores.Usable.ToString()));
double? maxLoad = args.Contains("--max-load") ? double.Parse(Option("--max-load", "0"), System.Globalization.CultureInfo.InvariantCulture) : null;
string url = Option("--urls", "http://127.0.0.1:0");
if (mode is not ("serve" or "bench"))
{
    Console.Error.WriteLine("usage: PProcess.WebExample serve|bench [--urls URL] [--rows N] [--cost N] [--workers N] [--requests N] [--max-load X]");
    return 2;
}

// 1. The database, and the pool: forked now, while this process has no threads of its own
//    (docs/fork-safety.md rule 2). The SQLite native library is loaded first, so that workers inherit it.
SQLitePCL.Batteries_V2.Init();
string database = Path.Combine(Path.GetTempPath(), $"pprocess-web-{Environment.ProcessId}.db");
UserTable.Create(database, rows);
using var pool = new WorkerPool<SqliteConnection>(_ => UserTable.Open(database), new WorkerPoolOptions { Workers = workers });

// 2. Only then the web host and its threads.
var app = UserListApp.Build(url, database, pool, cost, maxLoad);
try
{
    await app.StartAsync();
    string address = UserListApp.Address(app);
    Console.WriteLine($"listening on {address} (workers {string.Join(' ', pool.WorkerPids)})");
    if (mode == "serve")
    {
        if (args.Contains("--stdin-lifetime"))
        {
            // Stop when standard input closes: a test that starts the server and dies takes the server with it.
            new Thread(() =>
            {
                Console.In.ReadToEnd();
                app.Lifetime.StopApplication();
            }) { IsBackground = true }.Start();
        }
        await app.WaitForShutdownAsync();
        return 0;
    }

    // bench: the same endpoint with and without the pool, interleaved, in one run.
    int requests = int.Parse(Option("--requests", "20"));
    using var http = new HttpClient { BaseAddress = new Uri(address) };
    async Task<(double Ms, string Body)> Get(bool usePool)
    {
        var clock = Stopwatch.StartNew();
        var body = await http.GetStringAsync($"/users?pool={(usePool ? "true" : "false")}");
        return (clock.Elapsed.TotalMilliseconds, body);
    }
    var warmPool = await Get(true);
    var warmSequential = await Get(false);
    var withPool = new List<double>();
    var without = new List<double>();
    for (int i = 0; i < requests; i++)
    {
        withPool.Add((await Get(true)).Ms);
        without.Add((await Get(false)).Ms);
    }
    static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);
    Console.WriteLine($"rows {rows}, cost {cost}, workers {pool.Size}, {requests} requests each way, interleaved; load average {LoadAverage.Read().One:0.00}");
    Console.WriteLine($"same page both ways: {warmPool.Body == warmSequential.Body}");
    Console.WriteLine($"{"",-12} {"median ms",10} {"mean ms",10} {"min ms",10}");
    Console.WriteLine($"{"sequential",-12} {Median(without),10:0.0} {without.Average(),10:0.0} {without.Min(),10:0.0}");
    Console.WriteLine($"{"pool",-12} {Median(withPool),10:0.0} {withPool.Average(),10:0.0} {withPool.Min(),10:0.0}");
    Console.WriteLine($"sequential/pool (median): {Median(without) / Median(withPool):0.00}x");
    await app.StopAsync();
    return 0;
}
finally
{
    await app.DisposeAsync();
    pool.Dispose();
    SqliteConnection.ClearAllPools();
    File.Delete(database);
}
