using System.Diagnostics;

namespace PProcess.Native;

/// <summary>
/// A moment on the <see cref="Stopwatch"/> clock, or never: the one place where a timeout becomes
/// a deadline and a deadline becomes what is left of it (for poll across EINTR, a job's limit, a
/// child's exit grace).
/// </summary>
internal readonly struct Deadline
{
    private readonly long at;

    private Deadline(long at) => this.at = at;

    /// <summary>No deadline.</summary>
    internal static Deadline Never => new(long.MaxValue);

    /// <summary>Now: a wait with this deadline only looks.</summary>
    internal static Deadline Now => new(Stopwatch.GetTimestamp());

    /// <summary><paramref name="timeout"/> from now; null, and only null, is never (a negative time is refused).</summary>
    internal static Deadline After(TimeSpan? timeout)
    {
        if (timeout is not { } t)
        {
            return Never;
        }
        if (t < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "A timeout is zero or a positive time; null means no limit.");
        }
        long ticks = (long)Math.Min(t.TotalSeconds * Stopwatch.Frequency, long.MaxValue / 2);
        return new(Stopwatch.GetTimestamp() + ticks);
    }

    /// <summary>The moment <paramref name="timestamp"/> (<see cref="Stopwatch.GetTimestamp"/> ticks).</summary>
    internal static Deadline At(long timestamp) => new(Math.Min(timestamp, long.MaxValue - 1));

    internal bool IsNever => at == long.MaxValue;

    internal bool HasPassed => !IsNever && Stopwatch.GetTimestamp() >= at;

    /// <summary>The time left (zero once passed), or null for never.</summary>
    internal TimeSpan? Remaining => IsNever ? null : TimeSpan.FromTicks(Math.Max(0, Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), at).Ticks));

    /// <summary>poll's timeout: -1 for never, otherwise the whole milliseconds left, rounded up.</summary>
    internal int PollTimeout()
    {
        if (IsNever)
        {
            return -1;
        }
        long left = at - Stopwatch.GetTimestamp();
        return left <= 0 ? 0 : (int)Math.Min(int.MaxValue, (left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
    }

    /// <summary>The earlier of two deadlines.</summary>
    internal static Deadline Earlier(Deadline a, Deadline b) => a.at <= b.at ? a : b;

    /// <summary>The later of two deadlines.</summary>
    internal static Deadline Later(Deadline a, Deadline b) => a.at >= b.at ? a : b;
}
