using System.Buffers.Text;
using System.Text;

namespace PProcess.Processes;

/// <summary>
/// What the kernel says of a process or a thread in /proc/PID/stat (or /proc/self/task/TID/stat):
/// the one reader of that line, for the library (the wait for quiet threads, a child's start, a
/// background process's identity) and for the tests. The name, in parentheses, may hold spaces
/// and parentheses itself, so the fields are counted from the last ')' (proc(5)).
/// </summary>
/// <param name="Name">The command name (field 2), at most 15 bytes.</param>
/// <param name="State">R running, S sleeping, D disk sleep, Z zombie, T stopped, X dead... (field 3).</param>
/// <param name="ParentPid">Field 4.</param>
/// <param name="Session">Field 6.</param>
/// <param name="Terminal">The controlling terminal's device number, 0 for none (field 7).</param>
/// <param name="CpuTicks">User and system time in clock ticks (fields 14 and 15).</param>
/// <param name="Threads">Field 20.</param>
/// <param name="StartTime">Clock ticks from boot to the process's start (field 22): with the pid, it names one process.</param>
internal readonly record struct ProcStat(string Name, char State, int ParentPid, int Session, int Terminal, long CpuTicks, int Threads,
    long StartTime)
{
    /// <summary>A buffer this size holds any stat line (about 300 bytes: 52 numbers and a name of 15 bytes).</summary>
    internal const int BufferSize = 1024;

    /// <summary>How long a clock tick is: USER_HZ, 100 on Linux.</summary>
    internal static readonly TimeSpan TickLength = TimeSpan.FromSeconds(1.0 / 100);

    /// <summary>True for a process that has exited (a zombie not reaped yet, or one being reaped).</summary>
    internal bool HasEnded => State is 'Z' or 'X';

    /// <summary>The process with <paramref name="pid"/> now; null when there is none.</summary>
    internal static ProcStat? Of(int pid) => Read($"/proc/{pid}/stat", stackalloc byte[BufferSize]);

    /// <summary>The line at <paramref name="path"/> (a stat file), read into <paramref name="buffer"/>; null when the process or thread is gone.</summary>
    internal static ProcStat? Read(string path, Span<byte> buffer)
    {
        int n = ReadFile(path, buffer);
        return n > 0 ? Parse(buffer[..n]) : null;
    }

    /// <summary>
    /// Reads a file of /proc into <paramref name="buffer"/> with one descriptor and no allocation
    /// but the handle: its length, or -1 when the process or thread it describes has ended (or is
    /// not visible to this user). Other errors (EMFILE at the descriptor limit) are thrown.
    /// </summary>
    internal static int ReadFile(string path, Span<byte> buffer)
    {
        try
        {
            using var file = File.OpenHandle(path);
            return RandomAccess.Read(file, buffer, 0);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException
            || e is IOException { HResult: Esrch })
        {
            return -1;
        }
    }

    private const int Esrch = 3;

    /// <summary>Parses one stat line; null when it is not one.</summary>
    internal static ProcStat? Parse(ReadOnlySpan<byte> line)
    {
        int open = line.IndexOf((byte)'(');
        int close = line.LastIndexOf((byte)')');
        if (open < 0 || close < open || close + 2 >= line.Length)
        {
            return null;
        }
        // After ") ": the state (field 3) at index 0, so field N at index N - 3.
        Span<long> numbers = stackalloc long[20];
        var rest = line[(close + 2)..];
        char state = (char)rest[0];
        for (int index = 0; index < numbers.Length; index++)
        {
            int space = rest.IndexOf((byte)' ');
            var word = space < 0 ? rest : rest[..space];
            if (index > 0 && !Utf8Parser.TryParse(word, out numbers[index], out _))
            {
                return null;
            }
            if (space < 0 && index < numbers.Length - 1)
            {
                return null;
            }
            rest = space < 0 ? default : rest[(space + 1)..];
        }
        return new ProcStat(Encoding.UTF8.GetString(line[(open + 1)..close]), state, (int)numbers[4 - 3], (int)numbers[6 - 3],
            (int)numbers[7 - 3], numbers[14 - 3] + numbers[15 - 3], (int)numbers[20 - 3], numbers[22 - 3]);
    }
}
