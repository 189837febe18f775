using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>
/// What a PMap's results can be: every shape a chunk of results takes comes back equal and of its
/// type, with PMap's default options (whatever engine they choose), and a string result of 1 GiB
/// arrives whole.
/// </summary>
public class PMapResultTests
{
    public sealed record Reading(int Sensor, double Value, string? Note);

    public abstract record Shape;

    public sealed record Circle(double Radius) : Shape;

    public sealed record Label(string Text) : Shape;

    [Fact]
    public void AOneGibibyteStringResultComesBackWhole() => IsolatedProcess.Passes(GibibyteScenario);

    private static void GibibyteScenario()
    {
        // Made before the children are forked; each child returns its copy-on-write view of it.
        // Before strings had a raw path, a PMap's string results crossed as JSON, which refuses
        // strings longer than 166,666,666 characters.
        var big = LargeStrings.Patterned(LargeStrings.GibibyteOfChars);
        var results = new[] { 0, 1, 2 }.PMap(i => i == 1 ? big : $"small {i}").ToList();
        Assert.Equal("small 0", results[0]);
        LargeStrings.AssertSame(big, results[1]);
        Assert.Equal("small 2", results[2]);
        Assert.True(ProcFs.NoChildrenLeft());
    }

    [Fact]
    public void ResultsOfEveryShapeComeBackEqualAndOfTheirTypes() => IsolatedProcess.Passes(ShapesScenario);

    private static void ShapesScenario()
    {
        var items = Enumerable.Range(0, 24).ToArray();
        static string? Text(int i) => i % 5 == 0 ? null : i % 3 == 0 ? "" : $"élément {i} ✓ 日本";
        Check(items, Text);
        Check(items, i => i * 1.5);
        Check(items, i => (long)i << 40);
        Check(items, i => i % 4 == 0 ? null : (int?)i);
        Check(items, i => i % 2 == 0);
        Check(items, i => (decimal)i / 7);
        Check(items, i => DateTime.UnixEpoch.AddDays(i));
        Check(items, i => (DayOfWeek)(i % 7));
        Check(items, i => (i, i * 2.0));
        Check(items, i => new Reading(i, i / 3.0, Text(i)));
        Check(items, i => (Shape)(i % 2 == 0 ? new Circle(i) : new Label(Text(i) ?? "")));
        Check(items, i => i % 3 == 0 ? i : i % 3 == 1 ? (object?)Text(i) : new Reading(i, 0, null));
        Check(items, i => i % 6 == 0 ? null : Enumerable.Range(0, i).ToArray(), (a, b) => Assert.Equal(a, b));
        Check(items, i => new[] { Text(i), Text(i + 1) }, (a, b) => Assert.Equal(a, b));
        Check(items, i => new double[2, 3] { { i, 1, 2 }, { 3, 4, -i } }, (a, b) => Assert.Equal(a.Cast<double>(), b.Cast<double>()));
        Assert.True(ProcFs.NoChildrenLeft());
    }

    private static void Check<TResult>(int[] items, Func<int, TResult> selector, Action<TResult, TResult>? same = null)
    {
        var expected = items.Select(selector).ToList();
        var actual = items.PMap(selector).ToList();
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i]?.GetType(), actual[i]?.GetType());
            if (same is not null && expected[i] is not null)
            {
                same(expected[i], actual[i]);
            }
            else
            {
                Assert.Equal(expected[i], actual[i]);
            }
        }
    }
}
