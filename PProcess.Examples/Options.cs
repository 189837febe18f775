using System.Globalization;

namespace PProcess.Examples;

/// <summary>The command line every example takes: --delay SECONDS --limit N, pprocess's defaults.</summary>
public sealed record Options(TimeSpan Delay, int Limit, IReadOnlyList<string> Rest)
{
    public const int N = 10;

    /// <summary>True when --delay was on the command line, false when <see cref="Delay"/> is the default of 1 s.</summary>
    public bool DelayGiven { get; init; }

    /// <summary>The delay given on the command line, or <paramref name="fallback"/>: for examples whose own default is not 1 s.</summary>
    public TimeSpan DelayOr(TimeSpan fallback) => DelayGiven ? Delay : fallback;

    /// <summary>True when --limit was on the command line, false when <see cref="Limit"/> is the default of 10.</summary>
    public bool LimitGiven { get; init; }

    public static Options Parse(IReadOnlyList<string> args)
    {
        var delay = TimeSpan.FromSeconds(1);
        bool delayGiven = false;
        bool limitGiven = false;
        int limit = 10;
        var rest = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--delay" when i + 1 < args.Count:
                    delay = TimeSpan.FromSeconds(double.Parse(args[++i], CultureInfo.InvariantCulture));
                    delayGiven = true;
                    break;
                case "--limit" when i + 1 < args.Count:
                    limit = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    limitGiven = true;
                    if (limit < 1)
                    {
                        throw new ArgumentException($"--limit must be at least 1, not {limit}.");
                    }
                    break;
                default:
                    rest.Add(args[i]);
                    break;
            }
        }
        return new Options(delay, limit, rest) { DelayGiven = delayGiven, LimitGiven = limitGiven };
    }
}
