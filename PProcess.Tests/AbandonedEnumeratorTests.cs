using System.Runtime.CompilerServices;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// A PMap enumerator dropped without Dispose (a `break` out of a manual MoveNext loop, an iterator
/// stored and forgotten): when it is collected, its children are killed and reaped, and its
/// descriptors, closed by their finalizers, are no longer listed for children to close, so that
/// a file the program opens afterwards (which may get one of their numbers) stays open in the next
/// child. On 4624e1d the children stayed zombies and the next child's read of the file failed
/// with EBADF.
/// </summary>
public class AbandonedEnumeratorTests
{
    [Theory]
    [InlineData(PMapMode.Adaptive)]
    [InlineData(PMapMode.ForkPerElement)]
    public void AnAbandonedEnumeratorsChildrenAreReapedAndItsDescriptorsForgottenWhenItIsCollected(PMapMode mode) =>
        IsolatedProcess.Passes(mode == PMapMode.Adaptive ? AdaptiveScenario : ForkPerElementScenario);

    private static void AdaptiveScenario() => Scenario(PMapMode.Adaptive);

    private static void ForkPerElementScenario() => Scenario(PMapMode.ForkPerElement);

    private static void Scenario(PMapMode mode)
    {
        var children = Abandon(mode);
        Assert.NotEmpty(children);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        // No child of the abandoned map is left, not even as a zombie.
        Assert.Empty(ProcFs.Children(Environment.ProcessId).Intersect(children));

        // Files opened now take the lowest free numbers: those the finalizers closed among them.
        var path = Path.Combine(Path.GetTempPath(), $"pprocess-abandoned-{Environment.ProcessId}");
        var files = new List<FileStream>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                File.WriteAllText($"{path}.{i}", $"file {i}");
                files.Add(new FileStream($"{path}.{i}", FileMode.Open, FileAccess.Read));
            }
            // The next child reads them through the descriptors it inherited.
            var read = new[] { 0 }.PMap(_ => string.Join(",", files.Select(f =>
            {
                var buffer = new byte[16];
                return System.Text.Encoding.UTF8.GetString(buffer, 0, f.Read(buffer));
            })), new PMapOptions { Limit = 1 }).Single();
            Assert.Equal(string.Join(",", Enumerable.Range(0, 8).Select(i => $"file {i}")), read);
        }
        finally
        {
            foreach (var file in files)
            {
                file.Dispose();
            }
            for (int i = 0; i < 8; i++)
            {
                File.Delete($"{path}.{i}");
            }
        }
        Assert.True(ProcFs.NoChildrenLeft());
    }

    /// <summary>Starts a map, takes one result and drops the enumerator; returns the pids of the children it had then.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int[] Abandon(PMapMode mode)
    {
        var enumerator = Enumerable.Range(0, 1000).ToArray()
            .PMap(k => { Thread.Sleep(k == 0 ? 0 : 10); return k; }, new PMapOptions { Limit = 2, Mode = mode })
            .GetEnumerator();
        Assert.True(enumerator.MoveNext());
        Assert.Equal(0, enumerator.Current);
        return ProcFs.Children(Environment.ProcessId);
    }
}
