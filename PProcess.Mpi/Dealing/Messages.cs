using PProcess.Mpi.Native;
using PProcess.Native;

namespace PProcess.Mpi.Dealing;

/// <summary>
/// Point-to-point messages of a map across ranks, over <see cref="MpiWorld.Comm"/>, always from
/// unmanaged buffers. Every wait tests its request and, after a short spin, sleeps 1 ms between
/// tests: MPICH's blocking calls poll in the calling thread, so a rank waiting for the others would
/// otherwise keep a core busy that its own children, or a rank sharing the machine, could use.
/// </summary>
internal static unsafe class Messages
{
    /// <summary>A rank asks rank 0 for a range; payload: the most elements it runs at once.</summary>
    internal const int Request = 1;

    /// <summary>Rank 0's answer: start and count of a range, count 0 when none is left.</summary>
    internal const int Reply = 2;

    /// <summary>A rank hands over a range's results (<see cref="Report"/>).</summary>
    internal const int Result = 3;

    /// <summary>A rank has handed over everything it will.</summary>
    internal const int Done = 4;

    /// <summary>A rank has finished an element since it last said anything (sent with <see cref="MpiPMapOptions.RankSilenceTimeout"/> only).</summary>
    internal const int Progress = 5;

    private const int Spins = 64;

    /// <summary>Waits until <paramref name="request"/> completes, or <paramref name="until"/> passes: false then, and the request is still pending.</summary>
    internal static bool Wait(ref int request, Deadline until)
    {
        for (int tries = 0; ; tries++)
        {
            if (Test(ref request))
            {
                return true;
            }
            if (until.HasPassed)
            {
                return false;
            }
            Pause(tries);
        }
    }

    /// <summary>True when <paramref name="request"/> has completed (it is then freed); does not wait.</summary>
    internal static bool Test(ref int request)
    {
        Mpich.Check(Mpich.Test(ref request, out int flag, Mpich.StatusIgnore), "MPI_Test");
        return flag != 0;
    }

    /// <summary>True when a message of any tag from any rank is waiting; does not wait.</summary>
    internal static bool TryProbe(out Mpich.Status status)
    {
        Mpich.Status found;
        Mpich.Check(Mpich.Iprobe(Mpich.AnySource, Mpich.AnyTag, MpiWorld.Comm, out int flag, &found), "MPI_Iprobe");
        status = found;
        return flag != 0;
    }

    /// <summary>Waits for a message of any tag from any rank, or until <paramref name="until"/> passes: false then.</summary>
    internal static bool Probe(Deadline until, out Mpich.Status status)
    {
        for (int tries = 0; ; tries++)
        {
            if (TryProbe(out status))
            {
                return true;
            }
            if (until.HasPassed)
            {
                return false;
            }
            Pause(tries);
        }
    }

    /// <summary>Receives the message <paramref name="status"/> announced.</summary>
    internal static NativeBuffer Receive(in Mpich.Status status)
    {
        var copy = status;
        Mpich.Check(Mpich.GetCount(&copy, Mpich.Byte, out int length), "MPI_Get_count");
        var buffer = new NativeBuffer(length);
        Mpich.Check(Mpich.Recv(buffer.Pointer, length, Mpich.Byte, status.Source, status.Tag, MpiWorld.Comm, Mpich.StatusIgnore), "MPI_Recv");
        return buffer;
    }

    /// <summary>Sends a few ints (small enough to leave at once: MPI sends such messages eagerly).</summary>
    internal static void SendInts(int destination, int tag, ReadOnlySpan<int> values)
    {
        fixed (int* data = values)
        {
            Mpich.Check(Mpich.Send(data, values.Length * sizeof(int), Mpich.Byte, destination, tag, MpiWorld.Comm), "MPI_Send");
        }
    }

    /// <summary>Starts sending <paramref name="buffer"/>, which must stay alive until the returned request completes.</summary>
    internal static int StartSend(NativeBuffer buffer, int destination, int tag)
    {
        Mpich.Check(Mpich.Isend(buffer.Pointer, buffer.Length, Mpich.Byte, destination, tag, MpiWorld.Comm, out int request), "MPI_Isend");
        return request;
    }

    /// <summary>Starts receiving into <paramref name="buffer"/> from <paramref name="source"/>.</summary>
    internal static int StartReceive(NativeBuffer buffer, int source, int tag)
    {
        Mpich.Check(Mpich.Irecv(buffer.Pointer, buffer.Length, Mpich.Byte, source, tag, MpiWorld.Comm, out int request), "MPI_Irecv");
        return request;
    }

    /// <summary>MPI_Bcast from rank 0, waited for without holding a core until <paramref name="until"/>: false if it passed first.</summary>
    internal static bool Broadcast(NativeBuffer buffer, Deadline until)
    {
        // MPI counts in ints: a buffer over 1 GiB goes in pieces.
        const int Piece = 1 << 30;
        for (long offset = 0; offset < buffer.Length || offset == 0; offset += Piece)
        {
            int length = (int)Math.Min(Piece, buffer.Length - offset);
            Mpich.Check(Mpich.Ibcast(buffer.Pointer + offset, length, Mpich.Byte, 0, MpiWorld.Comm, out int request), "MPI_Ibcast");
            if (!Wait(ref request, until))
            {
                return false;
            }
            if (buffer.Length == 0)
            {
                break;
            }
        }
        return true;
    }

    private static void Pause(int tries)
    {
        if (tries < Spins)
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(1);
        }
    }
}
