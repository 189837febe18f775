namespace PProcess.Tests.Isolation;

/// <summary>
/// A test class whose scenarios run once per channel transport: each concrete subclass names a
/// transport, and its scenario processes create every channel with it (an exchange, map, queue,
/// PMap or Fork call that passes no transport uses <see cref="Fork.DefaultTransport"/>, which the
/// scenario host sets from <see cref="Variable"/>).
/// </summary>
public abstract class TransportScenarios
{
    /// <summary>The environment variable that carries the transport into a scenario process.</summary>
    public const string Variable = "PPROCESS_TEST_TRANSPORT";

    /// <summary>The transport this class's scenarios run over.</summary>
    protected abstract ChannelTransportKind Transport { get; }

    /// <summary>Runs the scenario in a new process over <see cref="Transport"/>, and fails the test unless it succeeded.</summary>
    protected IsolatedResult Passes(Action scenario) =>
        IsolatedProcess.Passes(scenario, new Dictionary<string, string> { [Variable] = Transport.ToString() });

    /// <summary>In a scenario process: applies the transport named by <see cref="Variable"/>, if any.</summary>
    internal static void ApplyFromEnvironment()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } name)
        {
            Runtime.TestHooks.DefaultTransport = Enum.Parse<ChannelTransportKind>(name);
        }
    }
}
