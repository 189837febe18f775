using System.Net.Sockets;
using Mono.Unix.Native;
using PProcess.Tests.Isolation;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>
/// Background processes against peers and files that misbehave or were planted (issue 21;
/// docs/reliability.md, "Hostile input"; docs/persistence.md, security model): a peer of the same
/// user that stalls, a full listen backlog, another user's directory and log file, a socket file
/// replaced under a live daemon.
/// </summary>
public class HostilePeerTests
{
    [Fact]
    public void PeersThatStallBeforeTheirHelloDoNotDelayTheCollector()
    {
        using var daemons = new Daemons();
        IsolatedProcess.Run(StalledPeersScenario, daemons.Environment, TimeSpan.FromSeconds(90)).AssertSucceeded();
    }

    private static void StalledPeersScenario()
    {
        var address = Path.Combine(Daemons.FromEnvironment(), "stalled.sock");
        var process = new BackgroundCallable(address, channel => channel.Send("result")).Start();
        process.WaitUntilComputed();
        // Peers of the same user (SO_PEERCRED lets them in) that connect first and hold on: one sends
        // 8 of a header's 16 bytes, one a header announcing a 1 GiB hello, one nothing.
        using var halfHeader = Connect(address);
        halfHeader.Send("PP\u0001\u0001\0\0\0\0"u8);
        using var hugeHello = Connect(address);
        hugeHello.Send([(byte)'P', (byte)'P', 1, 1, 0, 0, 0, 0, .. BitConverter.GetBytes(1L << 30)]);
        using var silent = Connect(address);

        // The collector, queued behind them, is served (before, the daemon's read of the first
        // peer's header blocked until that peer went away, and the collector waited with it).
        using var queue = new PersistentQueue<string>();
        queue.Connect(address);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (queue.Unfinished())
        {
            Assert.True(DateTime.UtcNow < deadline, "peers that stall before their hello hold the background process");
            queue.Store(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(["result"], queue.ToArray());
        Assert.True(Daemons.WaitGone(process.Pid, TimeSpan.FromSeconds(10)), "the background process outlived its collection");
    }

    [Fact]
    public void AFullListenBacklogMakesStartAndConnectFailAtOnceInsteadOfBlocking()
    {
        using var daemons = new Daemons();
        IsolatedProcess.Run(FullBacklogScenario, daemons.Environment, TimeSpan.FromSeconds(60)).AssertSucceeded();
    }

    private static void FullBacklogScenario()
    {
        var address = Path.Combine(Daemons.FromEnvironment(), "held.sock");
        // A daemon that computes for ever accepts nobody: connections pile up in its listen backlog.
        var process = new BackgroundCallable(address, _ => Thread.Sleep(Timeout.Infinite)).Start();
        var queued = new List<Socket>();
        try
        {
            while (true)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
                try
                {
                    socket.Connect(new UnixDomainSocketEndPoint(address));
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
                {
                    // The kernel takes no more: the backlog is full.
                    socket.Dispose();
                    break;
                }
                queued.Add(socket);
                Assert.True(queued.Count < 1000, "the listen backlog never filled");
            }

            // Before, both blocked in connect() until killed.
            var inUse = Assert.Throws<PersistentProcessException>(() => new BackgroundCallable(address, channel => channel.Send(1)).Start());
            Assert.Contains("already in use", inUse.Message);
            var full = Assert.Throws<PersistentProcessException>(() =>
                new BackgroundQueue<int>(address, new PersistentExchangeOptions { ConnectTimeout = TimeSpan.FromSeconds(1) }));
            Assert.Contains("listen backlog is full", full.Message);
            Assert.Contains(address, full.Message);
            Assert.Equal(address, full.Address);
        }
        finally
        {
            queued.ForEach(socket => socket.Dispose());
            process.Kill();
        }
    }

    [RootFact]
    public void ADirectoryOrLogFileOfAnotherUserIsRefusedAndNothingIsWrittenThroughIt()
    {
        using var daemons = new Daemons();
        var mine = daemons.Directory;
        // The other user's directory, with a log name planted as a symbolic link to a file of ours,
        // and a log file of their own.
        var theirs = Path.Combine(mine, "theirs");
        Directory.CreateDirectory(theirs);
        Assert.Equal(0, Syscall.chmod(theirs, FilePermissions.ACCESSPERMS & ~(FilePermissions.S_IWGRP | FilePermissions.S_IWOTH)));
        Assert.Equal(0, Syscall.chown(theirs, RootFactAttribute.OtherUser, RootFactAttribute.OtherUser));
        var target = Path.Combine(mine, "target.txt");
        File.WriteAllText(target, "secret\n");
        Assert.Equal(0, Syscall.chmod(target, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR));
        var link = Path.Combine(theirs, "task.log");
        Assert.Equal(0, Syscall.symlink(target, link));
        Assert.Equal(0, Syscall.lchown(link, RootFactAttribute.OtherUser, RootFactAttribute.OtherUser));
        var planted = Path.Combine(theirs, "planted.log");
        File.WriteAllText(planted, "planted\n");
        Assert.Equal(0, Syscall.chown(planted, RootFactAttribute.OtherUser, RootFactAttribute.OtherUser));
        // A directory of ours that anyone may write to, with and without the sticky bit (/tmp's mode).
        var open = Path.Combine(mine, "open");
        var sticky = Path.Combine(mine, "sticky");
        Directory.CreateDirectory(open);
        Directory.CreateDirectory(sticky);
        Assert.Equal(0, Syscall.chmod(open, FilePermissions.ACCESSPERMS));
        Assert.Equal(0, Syscall.chmod(sticky, FilePermissions.ACCESSPERMS | FilePermissions.S_ISVTX));

        var environment = new Dictionary<string, string>(daemons.Environment) { ["THEIRS"] = theirs, ["OPEN"] = open, ["STICKY"] = sticky };
        IsolatedProcess.Run(ForeignFilesScenario, environment, TimeSpan.FromSeconds(60)).AssertSucceeded();

        Assert.Equal("secret\n", File.ReadAllText(target));
        Assert.Equal("planted\n", File.ReadAllText(planted));
        Assert.Equal(["planted.log", "task.log"], Directory.GetFileSystemEntries(theirs).Select(Path.GetFileName).Order());
        Assert.Empty(Directory.GetFileSystemEntries(open));
        Assert.Empty(Directory.GetFileSystemEntries(sticky));
        Assert.Empty(daemons.Running());
    }

    private static void ForeignFilesScenario()
    {
        var mine = Daemons.FromEnvironment();
        var theirs = Environment.GetEnvironmentVariable("THEIRS")!;
        Action<Channel> job = channel =>
        {
            Console.WriteLine("leaked");
            channel.Send(1);
        };

        // A socket in the other user's directory: refused when the address is given, with how to make one.
        var error = Assert.Throws<PersistentProcessException>(() =>
            new BackgroundCallable(Path.Combine(theirs, "task.sock"), job, new PersistentExchangeOptions { LogPath = Path.Combine(theirs, "task.log") }));
        Assert.Contains($"owned by uid {RootFactAttribute.OtherUser}", error.Message);
        Assert.Contains("mkdir -m 700", error.Message);
        Assert.Throws<PersistentProcessException>(() => new BackgroundQueue<int>(Path.Combine(theirs, "task.sock")));

        // Directories of ours that others may write to (they could replace the socket file): refused too.
        foreach (var variable in (string[])["OPEN", "STICKY"])
        {
            var directory = Environment.GetEnvironmentVariable(variable)!;
            error = Assert.Throws<PersistentProcessException>(() => new BackgroundCallable(Path.Combine(directory, "task.sock"), job));
            Assert.Contains("writable by group or others", error.Message);
            Assert.Contains("mkdir -m 700", error.Message);
        }

        // A socket of ours with a log file the other user planted: a symbolic link, or a file of theirs.
        foreach (var (log, problem) in new[] { ("task.log", "symbolic link"), ("planted.log", $"uid {RootFactAttribute.OtherUser}") })
        {
            var address = Path.Combine(mine, "ours.sock");
            var callable = new BackgroundCallable(address, job, new PersistentExchangeOptions { LogPath = Path.Combine(theirs, log) });
            error = Assert.Throws<PersistentProcessException>(() => callable.Start());
            Assert.Contains(problem, error.Message);
            Assert.Contains(Path.Combine(theirs, log), error.Message);
            Assert.False(File.Exists(address), "a background process was started all the same");
        }
    }

    [Fact]
    public void ADaemonWhoseSocketFileIsReplacedOrRemovedEnds()
    {
        using var daemons = new Daemons();
        IsolatedProcess.Run(ReplacedSocketScenario, daemons.Environment, TimeSpan.FromSeconds(90)).AssertSucceeded();
    }

    private static void ReplacedSocketScenario()
    {
        var directory = Daemons.FromEnvironment();
        // Another socket takes the address: nobody can reach the first daemon any more.
        var replaced = Path.Combine(directory, "replaced.sock");
        var log = Path.Combine(directory, "replaced.log");
        var first = new BackgroundCallable(replaced, channel => channel.Send(1), new PersistentExchangeOptions { LogPath = log }).Start();
        first.WaitUntilComputed();
        File.Delete(replaced);
        using var other = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        other.Bind(new UnixDomainSocketEndPoint(replaced));
        other.Listen();
        Assert.True(Daemons.WaitGone(first.Pid, TimeSpan.FromSeconds(20)), "a daemon whose socket file was replaced lives on, unreachable");
        // It ends without touching the file that is not its own, and says why in its log.
        Assert.True(File.Exists(replaced));
        Assert.Contains($"the background process at '{replaced}' ends: its socket file was removed or replaced", File.ReadAllText(log));

        // The socket file is deleted.
        var removed = Path.Combine(directory, "removed.sock");
        var second = new BackgroundCallable(removed, channel => channel.Send(2)).Start();
        second.WaitUntilComputed();
        File.Delete(removed);
        Assert.True(Daemons.WaitGone(second.Pid, TimeSpan.FromSeconds(20)), "a daemon whose socket file was deleted lives on, unreachable");
    }

    [Fact]
    public void KillSignalsTheProcessItStartedAndNeverOneThatTookItsPid()
    {
        using var sleeper = System.Diagnostics.Process.Start("sleep", "600");
        try
        {
            var known = Persistence.KnownProcess.Of(sleeper.Id);
            // The same pid with an earlier start time: a process that had the pid before and ended.
            Assert.False(new Persistence.KnownProcess(sleeper.Id, known.StartTime - 1).Signal((int)Signum.SIGKILL));
            Assert.True(ProcFs.IsRunning(sleeper.Id), "a process that only has the pid was killed");
            Assert.True(known.Signal((int)Signum.SIGKILL));
            Assert.True(sleeper.WaitForExit(TimeSpan.FromSeconds(10)));
            // Ended and reaped: nothing is sent any more.
            Assert.False(known.Signal((int)Signum.SIGKILL));
        }
        finally
        {
            sleeper.Kill();
        }
    }

    /// <summary>A blocking connection to a background process, as a raw socket that this test writes to.</summary>
    private static Socket Connect(string address)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(address));
        return socket;
    }
}
