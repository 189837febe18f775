using System.Runtime.InteropServices;
using PProcess.Exchanges;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Signals that interrupt the parent's system calls (EINTR on poll; short reads and writes):
/// retried, with nothing lost. The signal is aimed at the parent's main thread (tgkill), with a
/// handler installed, so that it interrupts the call that thread is blocked in.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public partial class InterruptionTests
{
    [LibraryImport("libc", EntryPoint = "tgkill", SetLastError = true)]
    private static partial int TgKill(int tgid, int tid, int signal);

    private const int Sigwinch = 28;

    /// <summary>The number of the system call the main thread of <paramref name="pid"/> is blocked in, or -1.</summary>
    private static long BlockedSyscall(int pid)
    {
        try
        {
            var first = File.ReadAllText($"/proc/{pid}/task/{pid}/syscall").Split(' ')[0];
            return long.TryParse(first, out var number) ? number : -1;
        }
        catch (IOException)
        {
            return -1;
        }
    }

    /// <summary>poll and ppoll on x86-64; ppoll on arm64 (which has no poll).</summary>
    private static bool IsPoll(long syscall) => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => syscall is 7 or 271,
        Architecture.Arm64 => syscall is 73,
        var other => throw new PlatformNotSupportedException($"system call numbers for {other}"),
    };

    /// <summary>
    /// Sends SIGWINCH to the parent's main thread each time it is seen blocked in poll, until it
    /// has done so <paramref name="times"/> times, then tells the parent how many it sent.
    /// </summary>
    private static void InterruptParentInPoll(Channel channel, int parent, int times)
    {
        int sent = 0;
        // Poll: a parent that failed and closed the channel stops the loop too.
        while (sent < times && !channel.Poll(TimeSpan.Zero))
        {
            if (IsPoll(BlockedSyscall(parent)))
            {
                TgKill(parent, parent, Sigwinch);
                sent++;
            }
            else
            {
                Thread.Yield();
            }
        }
        channel.Send(sent);
    }

    [Fact]
    public void PollInterruptedBySignalsIsRetriedAndTheResultArrives() => IsolatedProcess.Passes(PollScenario);

    private static void PollScenario()
    {
        using var handler = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context => context.Cancel = true);
        long before = PProcess.Native.LibC.PollInterruptions;
        // A job timeout gives the wait a deadline, so that it polls (a wait with one socket and no
        // deadline blocks in read instead, which the runtime's SA_RESTART handlers restart in the
        // kernel: docs/reliability.md).
        using var exchange = new Collecting(new ExchangeOptions { Limit = 1, JobTimeout = TimeSpan.FromMinutes(10) });
        exchange.Start(InterruptParentInPoll, Environment.ProcessId, 20);
        // Finish waits in poll; the child sends its result only after interrupting that poll 20 times.
        exchange.Finish();
        Assert.Equal([20], exchange.Results);
        Assert.True(PProcess.Native.LibC.PollInterruptions - before >= 1, $"poll was interrupted {PProcess.Native.LibC.PollInterruptions - before} times");
    }

    private static void Echo(Channel channel) => channel.Send(channel.Receive<byte[]>());

    private static void SignalUntilToldToStop(Channel channel, int parent)
    {
        long sent = 0;
        while (!channel.Poll(TimeSpan.Zero))
        {
            TgKill(parent, parent, Sigwinch);
            sent++;
        }
        channel.Receive();
        channel.Send(sent);
    }

    [Fact]
    public void ReadsAndWritesUnderASignalStormLoseNothing() => IsolatedProcess.Passes(StormScenario);

    private static void StormScenario()
    {
        using var handler = PosixSignalRegistration.Create(PosixSignal.SIGWINCH, context => context.Cancel = true);
        var payload = new byte[48 << 20];
        new Random(7).NextBytes(payload);
        using var echo = Fork.Start(Echo);
        using var storm = Fork.Start(SignalUntilToldToStop, Environment.ProcessId);
        echo.Send(payload);                       // 48 MB written while signals arrive
        var back = echo.Receive<byte[]>();        // and read back
        Assert.True(payload.AsSpan().SequenceEqual(back), "the echoed bytes differ");
        storm.Send("stop");
        Assert.True(storm.Receive<long>() > 0);
        echo.Wait();
        storm.Wait();
    }
}
