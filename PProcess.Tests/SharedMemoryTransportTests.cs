using System.Security.Cryptography;
using PProcess.Serialization;
using PProcess.Transports;

namespace PProcess.Tests;

/// <summary>
/// The shared-memory rings and their wake-ups, in this process: both ends of one channel, driven
/// by threads at once (no fork is needed to test the ring protocol).
/// </summary>
public class SharedMemoryTransportTests
{
    [Fact]
    public void ManyMessagesCrossATinyRingBothWaysAtOnceIntactAndInOrder()
    {
        // A 4 KiB ring: messages of up to three times its size wrap around it and stream through,
        // and both writers keep finding it full, so every wait-and-wake path runs many times.
        var (parentEnd, childEnd) = new SharedMemoryTransport.Ends(ringCapacity: 4096).Loopback();
        using var left = new Channel(parentEnd, null, null, DefaultChannelSerializer.Instance, toParent: true);
        using var right = new Channel(childEnd, null, null, DefaultChannelSerializer.Instance, toParent: true);
        const int count = 2000;
        var sender = new Thread(() =>
        {
            var random = new Random(5);
            for (int i = 0; i < count; i++)
            {
                var data = new byte[random.Next(0, 3 * 4096)];
                random.NextBytes(data);
                left.Send(data);
            }
        });
        var echo = new Thread(() =>
        {
            // Answers each array with its length and hash: the answers flow back while arrays still come.
            while (right.TryReceive(out var value))
            {
                var data = (byte[])value!;
                right.Send($"{data.Length}:{Convert.ToHexString(SHA256.HashData(data))}");
            }
        });
        sender.Start();
        echo.Start();
        var expected = new Random(5);
        for (int i = 0; i < count; i++)
        {
            Assert.True(left.Poll(TimeSpan.FromSeconds(30)), $"no answer {i} within 30 s: a wake-up was lost");
            var data = new byte[expected.Next(0, 3 * 4096)];
            expected.NextBytes(data);
            Assert.Equal($"{data.Length}:{Convert.ToHexString(SHA256.HashData(data))}", left.Receive<string>());
        }
        Assert.True(sender.Join(TimeSpan.FromSeconds(30)));
        // Closing the left end hangs up the liveness socket: the echo thread sees the end of the stream.
        left.Close();
        Assert.True(echo.Join(TimeSpan.FromSeconds(30)), "the reader did not see the peer hang up");
    }

    [Fact]
    public void AReaderSeesTheEndOfTheStreamOnlyAfterEverythingThePeerWrote()
    {
        var (parentEnd, childEnd) = new SharedMemoryTransport.Ends(ringCapacity: 4096).Loopback();
        using var reader = new Channel(parentEnd, null, null, DefaultChannelSerializer.Instance, toParent: true);
        var writer = new Channel(childEnd, null, null, DefaultChannelSerializer.Instance, toParent: true);
        writer.Send("one");
        writer.Send("two");
        Assert.True(reader.Poll(TimeSpan.Zero));
        writer.Close();
        Assert.Equal("one", reader.Receive<string>());
        Assert.Equal("two", reader.Receive<string>());
        Assert.True(reader.Poll(TimeSpan.FromSeconds(5)), "the hang-up did not wake the reader");
        Assert.False(reader.TryReceive(out _));
    }

    [Fact]
    public void ClosingAnEndWakesAThreadBlockedInItAndThePeerSeesTheEnd()
    {
        var (parentEnd, childEnd) = new SharedMemoryTransport.Ends(ringCapacity: 4096).Loopback();
        var reader = new Channel(parentEnd, null, null, DefaultChannelSerializer.Instance, toParent: true);
        using var peer = new Channel(childEnd, null, null, DefaultChannelSerializer.Instance, toParent: true);
        Exception? seen = null;
        int tid = 0;
        var blocked = new Thread(() =>
        {
            Volatile.Write(ref tid, PProcess.Native.LibC.GetTid());
            try
            {
                reader.Receive();
            }
            catch (Exception e)
            {
                seen = e;
            }
        });
        blocked.Start();
        // Close only once the thread sleeps in poll inside the read (x86-64 poll/ppoll, arm64 ppoll):
        // the case where nothing but the close can wake it.
        while (Volatile.Read(ref tid) == 0 || !InPoll(Volatile.Read(ref tid)))
        {
            Thread.Sleep(1);
        }
        reader.Close();
        Assert.True(blocked.Join(TimeSpan.FromSeconds(30)), "a thread blocked in a closed end was never woken");
        Assert.IsAssignableFrom<ObjectDisposedException>(seen);
        Assert.True(peer.Poll(TimeSpan.FromSeconds(30)), "the peer did not see the hang-up");
        Assert.False(peer.TryReceive(out _));
    }

    private static bool InPoll(int tid)
    {
        try
        {
            var number = File.ReadAllText($"/proc/self/task/{tid}/syscall").Split(' ')[0];
            return number is "7" or "271" or "73";
        }
        catch (IOException)
        {
            return false;
        }
    }

    [Fact]
    public void ARingCapacityThatIsNotAPowerOfTwoIsRefused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new SharedMemoryTransport.Ends(ringCapacity: 5000));
        Assert.Contains("power of two", error.Message);
    }
}
