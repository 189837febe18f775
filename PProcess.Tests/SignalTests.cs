using System.Runtime.InteropServices;
using Mono.Unix.Native;
using PProcess.Tests.Isolation;

namespace PProcess.Tests;

/// <summary>
/// Ctrl-C and SIGTERM sent to the whole process group, as a terminal or a supervisor sends them:
/// the children do not die of them on their own; the parent decides. A handler that cancels turns
/// them into <see cref="OperationCanceledException"/>; without one the program ends and its
/// children go at once. Each scenario runs in a process group of its own (setsid), and sends the
/// signal to its group itself (kill(0, ...)), at once after a result, as a terminal would mid-map.
/// </summary>
public partial class SignalTests
{
    private const int Rounds = 20;

    /// <summary>
    /// The scenario's wrapper: a process group of its own (setsid), with SIGINT and SIGTERM at their
    /// defaults, as a terminal's foreground program has them. A suite started in the background of a
    /// shell without job control inherits SIGINT ignored (exec keeps an ignored signal ignored, and the
    /// runtime then leaves it so): both Ctrl-C scenarios failed that way, the signal never arriving.
    /// </summary>
    private static readonly string[] OwnGroup = ["env", "--default-signal=INT,TERM", "setsid"];

    [Fact]
    public void CtrlCToTheProcessGroupCancelsAMapThroughCancelKeyPressTwentyTimesOutOfTwenty()
    {
        var result = IsolatedProcess.Run(CancelKeyPressScenario, null, null, OwnGroup).AssertSucceeded();
        Assert.Contains($"cancelled {Rounds} of {Rounds}", result.Output);
    }

    [Fact]
    public void SigtermToTheProcessGroupCancelsAMapThroughAPosixSignalHandlerTwentyTimesOutOfTwenty()
    {
        var result = IsolatedProcess.Run(SigtermHandlerScenario, null, null, OwnGroup).AssertSucceeded();
        Assert.Contains($"cancelled {Rounds} of {Rounds}", result.Output);
    }

    private static void CancelKeyPressScenario()
    {
        CancellationTokenSource? current = null;
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            Volatile.Read(ref current)?.Cancel();
        };
        CancelRounds(Signum.SIGINT, cts => Volatile.Write(ref current, cts));
    }

    private static void SigtermHandlerScenario()
    {
        CancellationTokenSource? current = null;
        using var handler = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            Volatile.Read(ref current)?.Cancel();
        });
        CancelRounds(Signum.SIGTERM, cts => Volatile.Write(ref current, cts));
    }

    /// <summary>
    /// Each round maps 20 ms elements, sends <paramref name="signal"/> to the whole process group
    /// after the first result, and expects the map to end in <see cref="OperationCanceledException"/>
    /// (not in a child killed by the signal) with no child left.
    /// </summary>
    private static void CancelRounds(Signum signal, Action<CancellationTokenSource> arm)
    {
        Assert.Equal(Environment.ProcessId, Syscall.getpgrp()); // setsid made this process its group's leader
        int cancelled = 0;
        for (int round = 0; round < Rounds; round++)
        {
            using var cts = new CancellationTokenSource();
            arm(cts);
            int seen = 0;
            try
            {
                foreach (var _ in Enumerable.Range(0, 400).PMap(k => { Thread.Sleep(20); return k; }, new PMapOptions { Limit = 2 }, cts.Token))
                {
                    if (++seen == 1)
                    {
                        Assert.Equal(0, Syscall.kill(0, signal)); // the whole group, this process and its children
                    }
                }
                Assert.Fail($"round {round}: the map ended without being cancelled");
            }
            catch (OperationCanceledException)
            {
                cancelled++;
            }
            Assert.True(ProcFs.NoChildrenLeft(), $"round {round}: children were left");
        }
        Console.WriteLine($"cancelled {cancelled} of {Rounds}");
    }

    [Fact]
    public void CtrlCWithoutAHandlerEndsTheProgramAndItsChildrenAtOnce() => AnUnhandledSignalEndsTheProgramAndItsChildren(SignalWithoutHandlerScenarioInt, 2);

    [Fact]
    public void SigtermWithoutAHandlerEndsTheProgramAndItsChildrenAtOnce() => AnUnhandledSignalEndsTheProgramAndItsChildren(SignalWithoutHandlerScenarioTerm, 15);

    private static void AnUnhandledSignalEndsTheProgramAndItsChildren(Action scenario, int signal)
    {
        var result = IsolatedProcess.Run(scenario, null, null, OwnGroup);
        // The program ends of the signal (the runtime re-raises it; a shell reports 128 + signal).
        Assert.True(result.ExitCode == 128 + signal,
            $"exit {result.ExitCode}\n{result.Output}\n{result.Error}");
        Assert.DoesNotContain("map ended", result.Output);
        var children = result.Output.Split('\n').Where(l => l.StartsWith("child ", StringComparison.Ordinal))
            .Select(l => int.Parse(l["child ".Length..])).ToArray();
        Assert.NotEmpty(children);
        // PR_SET_PDEATHSIG kills them when their parent ends; they are then reaped by init.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (children.Any(Alive) && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(20);
        }
        Assert.DoesNotContain(children, Alive);
    }

    /// <summary>True while <paramref name="pid"/> exists and is not a zombie.</summary>
    private static bool Alive(int pid) => ProcFs.IsRunning(pid);

    private static void SignalWithoutHandlerScenarioInt() => SignalWithoutHandler(Signum.SIGINT);

    private static void SignalWithoutHandlerScenarioTerm() => SignalWithoutHandler(Signum.SIGTERM);

    private static void SignalWithoutHandler(Signum signal)
    {
        int seen = 0;
        foreach (var pid in Enumerable.Range(0, 400).PMap(k => { Thread.Sleep(20); return Environment.ProcessId; }, new PMapOptions { Limit = 2 }))
        {
            Console.WriteLine($"child {pid}");
            Console.Out.Flush();
            if (++seen == 4)
            {
                Syscall.kill(0, signal);
            }
        }
        Console.WriteLine("map ended");
    }

    [Fact]
    public void AChildThatReadsTheTerminalFailsWithEioInsteadOfStoppingForEver()
    {
        var result = IsolatedProcess.Run(TerminalReadScenario, null, null, OwnGroup).AssertSucceeded();
        Assert.Contains("read failed: 5", result.Output);
    }

    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int OpenPt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt")]
    private static partial int GrantPt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt")]
    private static partial int UnlockPt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname")]
    private static partial nint PtsName(int fd);

    [LibraryImport("libc", EntryPoint = "tcsetpgrp")]
    private static partial int TcSetPgrp(int fd, int pgrp);

    /// <summary>
    /// The scenario, a session leader, takes a pseudo-terminal as its controlling terminal and is its
    /// foreground group (as a shell makes a program); its child, in a group of its own, reads the
    /// terminal: SIGTTIN would stop it for ever, ignored it gets EIO.
    /// </summary>
    private static unsafe void TerminalReadScenario()
    {
        const int O_RDWR = 2;
        int master = OpenPt(O_RDWR);
        Assert.True(master >= 0);
        Assert.Equal(0, GrantPt(master));
        Assert.Equal(0, UnlockPt(master));
        var slavePath = Marshal.PtrToStringUTF8(PtsName(master))!;
        int slave = Syscall.open(slavePath, OpenFlags.O_RDWR); // no O_NOCTTY: it becomes this session's terminal
        Assert.True(slave >= 0);
        Assert.Equal(0, TcSetPgrp(slave, Syscall.getpgrp()));
        var outcome = new[] { 0 }.PMap(_ =>
        {
            byte b;
            long n = Syscall.read(slave, &b, 1);
            return n < 0 ? $"read failed: {(int)Stdlib.GetLastError()}" : $"read {n}";
        }, new PMapOptions { Limit = 1, JobTimeout = TimeSpan.FromSeconds(20) }).Single();
        Console.WriteLine(outcome);
    }
}
