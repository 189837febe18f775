using System.Diagnostics;
using System.Text.Json;

namespace PProcess.Benchmarks;

/// <summary>
/// Code of the kind users write, where tiered compilation and dynamic PGO matter: LINQ over a list
/// of interface-typed shapes (interface calls that guarded devirtualisation can inline), string-keyed
/// dictionary lookups, and System.Text.Json round trips of records. <see cref="Element"/> is one
/// PMap element's worth; <see cref="SteadyState"/> a small program's rounds (docs/performance.md).
/// Shared with PProcess.Benchmarks.Baselines, which runs it with the runtime's default settings.
/// </summary>
internal static class UserCode
{
    internal interface IShape
    {
        double Area();
    }

    private sealed class Circle(double radius) : IShape
    {
        public double Area() => Math.PI * radius * radius;
    }

    private sealed class Square(double side) : IShape
    {
        public double Area() => side * side;
    }

    private sealed class Triangle(double width, double height) : IShape
    {
        public double Area() => width * height / 2;
    }

    internal sealed record Order(int Id, string Customer, decimal Total, string[] Items);

    /// <summary>One element: 200 shapes, 200 lookups, 20 records through JSON. Returns a checksum.</summary>
    internal static int Element(int seed) => Work(seed, shapes: 200, records: 20);

    /// <summary>
    /// A program's steady state: rounds of 2,000 shapes, lookups and records for 4 seconds; the
    /// median milliseconds of the last 20 rounds. The first seconds include compilation: with
    /// tiered compilation a method is promoted after 30 calls and a 100 ms delay, and dynamic
    /// PGO's optimised code arrives later still (a run of 16 rounds, 160 ms, had measured the
    /// warm-up: tiering on 10 ms a round against 4.5 ms with it off).
    /// </summary>
    internal static double SteadyState()
    {
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed < TimeSpan.FromSeconds(4) || times.Count < 40)
        {
            var clock = Stopwatch.StartNew();
            Work(times.Count, shapes: 2000, records: 2000);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        var last = times.Skip(times.Count - 20).Order().ToList();
        return (last[9] + last[10]) / 2;
    }

    private static int Work(int seed, int shapes, int records)
    {
        var list = new List<IShape>(shapes);
        for (int i = 0; i < shapes; i++)
        {
            // Mostly circles: the profile that dynamic PGO turns into an inlined call.
            list.Add(((i + seed) % 10) switch { 8 => new Square(i % 7 + 1), 9 => new Triangle(i % 5 + 1, 3), _ => (IShape)new Circle(i % 3 + 1) });
        }
        double area = list.Where(s => s.Area() > 2).Sum(s => s.Area());
        var totals = new Dictionary<string, decimal>();
        var orders = new List<Order>(records);
        for (int i = 0; i < records; i++)
        {
            var order = new Order(i, $"customer-{(seed + i) % 50}", i % 97 + 0.5m, [$"item-{i % 13}", $"item-{i % 7}"]);
            orders.Add(order);
            totals[order.Customer] = totals.GetValueOrDefault(order.Customer) + order.Total;
        }
        var json = JsonSerializer.Serialize(orders);
        var back = JsonSerializer.Deserialize<List<Order>>(json)!;
        decimal best = back.GroupBy(o => o.Customer).Max(g => g.Sum(o => o.Total));
        // Not HashCode.Combine: its seed differs between processes, and the baselines run in their own.
        return unchecked((int)((long)area * 31 + totals.Count * 17 + back.Count * 13 + json.Length * 7 + (long)best));
    }
}
