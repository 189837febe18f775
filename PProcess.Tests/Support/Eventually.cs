namespace PProcess.Tests.Support;

/// <summary>
/// Waiting for a condition with a deadline, instead of a sleep or an unbounded loop: a test that
/// waits for something that never comes fails, naming it, instead of hanging the suite.
/// </summary>
public static class Eventually
{
    /// <summary>The deadline by default: generous, for a loaded machine (a test never waits it out when it passes).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Returns once <paramref name="condition"/> holds; fails with <paramref name="what"/> if it still
    /// does not after <paramref name="timeout"/>. <paramref name="between"/> runs between two looks
    /// (work that makes progress, such as a job that gives a pool's thread its turn); without it, a
    /// look every 5 ms.
    /// </summary>
    public static void True(Func<bool> condition, string what, TimeSpan? timeout = null, Action? between = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Still waiting after {(timeout ?? DefaultTimeout).TotalSeconds:0.#} s for {what}.");
            }
            if (between is null)
            {
                Thread.Sleep(5);
            }
            else
            {
                between();
            }
        }
    }
}
