using System.Globalization;

namespace PProcess;

/// <summary>
/// The system load average from /proc/loadavg, and multicore's guard: is parallel work worth it
/// right now? multicore compares the one-minute load average, divided by the number of cores,
/// with a threshold given "as for a single core machine".
/// </summary>
public static class LoadAverage
{
    /// <summary>The one-, five- and fifteen-minute load averages from /proc/loadavg.</summary>
    public static (double One, double Five, double Fifteen) Read() => Parse(File.ReadAllText("/proc/loadavg"));

    /// <summary>Parses the text of /proc/loadavg ("0.52 0.58 0.59 1/467 12345").</summary>
    internal static (double One, double Five, double Fifteen) Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3
            || !double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double one)
            || !double.TryParse(fields[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double five)
            || !double.TryParse(fields[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double fifteen))
        {
            throw new FormatException($"Not the text of /proc/loadavg: '{text.Trim()}'.");
        }
        return (one, five, fifteen);
    }

    /// <summary>The one-minute load average divided by <paramref name="cores"/> (default <see cref="Cores.Usable"/>).</summary>
    public static double PerCore(int? cores = null) => Read().One / (cores ?? Cores.Usable);

    /// <summary>
    /// multicore's <c>max_load_average</c>: true when the one-minute load per core is at most
    /// <paramref name="maxPerCore"/> (null: always true). When false, run the sequential code path.
    /// </summary>
    public static bool Allows(double? maxPerCore, int? cores = null)
    {
        if (maxPerCore is not { } max)
        {
            return true;
        }
        ArgumentOutOfRangeException.ThrowIfNegative(max, nameof(maxPerCore));
        return Allows(max, Read().One, cores ?? Cores.Usable);
    }

    /// <summary>The guard's decision for a given reading: load per core at most the threshold.</summary>
    internal static bool Allows(double maxPerCore, double oneMinute, int cores) => oneMinute / cores <= maxPerCore;
}
