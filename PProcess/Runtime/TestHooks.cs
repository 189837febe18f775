namespace PProcess.Runtime;

/// <summary>
/// The one place where the test suite changes the library's behaviour: faults to inject, shorter
/// patiences, the default transport. Each holds its production value unless a test sets it, in a
/// scenario process of its own (PProcess.Tests/Isolation) or for its whole run; the library only
/// reads them, through the classes that use them. Nothing else in the library is a settable static.
/// </summary>
internal static class TestHooks
{
    /// <summary>The fault to inject into an attempt of a fork (1 = its first try); null in normal use (<see cref="ForkPoint"/>).</summary>
    internal static Func<int, ForkPoint.Fault>? InjectFault { get; set; }

    /// <summary>A child asleep this long without using CPU before it is ready is stuck on a lock (<see cref="StartupHandshake"/>).</summary>
    internal static TimeSpan StuckAsleep { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A child that used this much CPU without getting ready is spinning; its start needs a few ms (<see cref="StartupHandshake"/>).</summary>
    internal static TimeSpan StuckSpinning { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a fork waits for other threads to settle before it is refused (<see cref="Quiescence"/>).</summary>
    internal static TimeSpan QuiescencePatience { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The transport of channels whose settings name none: the socket transport; the suite runs the same scenarios over shared memory too.</summary>
    internal static ChannelTransportKind DefaultTransport { get; set; } = ChannelTransportKind.Socket;

    /// <summary>Makes the thread-pool repair look unavailable on this runtime, with this reason (<see cref="ThreadPoolRepair"/>).</summary>
    internal static string? ThreadPoolRepairUnavailable { get; set; }

    /// <summary>A field ("Type.field") the thread-pool repair must find missing, as after a runtime update that removed it.</summary>
    internal static string? ThreadPoolRepairMissingField { get; set; }

    /// <summary>
    /// Runs in a background process's first child once it has forked the daemon (given the daemon's pid and
    /// the status channel's descriptor), before it leaves, to make it as slow as a loaded machine
    /// may; null in normal use.
    /// </summary>
    internal static Action<int, int>? FirstChildLeaving { get; set; }
}
