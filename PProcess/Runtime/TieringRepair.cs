using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace PProcess.Runtime;

/// <summary>
/// Lets a child's tiered compilation promote hot methods, as its parent's does
/// (docs/fork-safety.md, rule 8). The runtime compiles a method's optimised tier on one background
/// thread, the tiering worker, which it starts when there is work and which ends after 4 s idle.
/// A child forked while its parent's worker exists inherits the runtime's flags saying the worker
/// runs, but not the thread: the child's tier-up requests go to a thread that does not exist, and
/// every method it first calls stays unoptimised for its whole life (measured: a call-heavy loop ran
/// at 45 ns a call in such a child against 3.6 ns in its parent). In the child, before user code,
/// this gives the runtime back a state in which it starts a worker of the child's own
/// (<see cref="RepairInChild"/>).
/// </summary>
/// <remarks>
/// The flags, the event and the function are private to libcoreclr. They are found once, in the
/// parent, from the code that starts the worker (x86-64 only): the one instruction that loads the
/// worker thread's name, in the function that then clears the two flags under the tiering lock when
/// the thread cannot be made. At each fork the parent checks that the flags agree with the thread
/// list (set exactly when a ".NET Tiered ..." thread exists); if they ever disagree, the repair is
/// turned off for the process and children keep the tiers they inherit. Verified on the runtimes
/// of <see cref="ThreadPoolRepair.VerifiedRuntimes"/> (ForkSafetyTests, TieringTests).
/// </remarks>
internal static unsafe class TieringRepair
{
    /// <summary>The tiering worker's names: .NET 10's, and .NET 11's.</summary>
    private static readonly string[] WorkerNames = [".NET Tiered Compilation Worker", ".NET Tiered JIT"];

    /// <summary>Whether a thread name, as /proc shows it (15 characters at most), is the tiering worker's.</summary>
    internal static bool IsWorker(string threadName) => threadName.StartsWith(".NET Tiered ", StringComparison.Ordinal);

    /// <summary>Whether the quiet process of a fork has a tiering worker.</summary>
    internal static bool HasWorker(Quiescence.Snapshot snapshot) => Array.Exists(snapshot.Names, IsWorker);

    private sealed record Target(nint Flags, nint Event, nint CreateWorker);

    private static readonly Lazy<Target?> Found = new(() => PrepareCall(Find()));

    private static string? unavailable;

    /// <summary>Null when the repair is in force; otherwise why children cannot tier up new code.</summary>
    internal static string? Unavailable
    {
        get
        {
            _ = Found.Value;
            return unavailable;
        }
    }

    /// <summary>In the parent, before the first fork: finds the runtime's tiering state once.</summary>
    internal static void Prepare() => _ = Found.Value;

    /// <summary>
    /// The call into the runtime goes through a marshalling stub made at its first call, one per
    /// signature: made here, by a call of the same signature to a function that changes nothing,
    /// children inherit it instead of each compiling it (rule 9).
    /// </summary>
    private static Target? PrepareCall(Target? target)
    {
        if (target is not null)
        {
            ((delegate* unmanaged<void>)NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "getpid"))();
            // So is the check a busy worker's child makes (its stubs made here, its answer the child's own).
            _ = Native.LibC.ThreadsUnlimited();
        }
        return target;
    }

    /// <summary>In the parent, just before a fork: whether the runtime's flags say a worker exists (null when unknown).</summary>
    internal static bool? WorkerFlagged()
    {
        if (unavailable is not null || Found.Value is not { } target)
        {
            return null;
        }
        byte* flags = (byte*)target.Flags;
        return (flags[0] | flags[1]) != 0;
    }

    /// <summary>
    /// In the parent, after a fork during which no other thread ran: the flags read before the fork
    /// must agree with the thread list of the quiet process. When they do not, the flags were not
    /// found right, and the repair is turned off.
    /// </summary>
    internal static void Confirm(bool? flagged, bool workerThreadExists)
    {
        if (flagged is { } value && value != workerThreadExists)
        {
            unavailable = $"the runtime's tiering flags said the worker {(value ? "exists" : "does not exist")} while the thread list said " +
                $"{(workerThreadExists ? "it does" : "it does not")}; the repair is off for this process";
        }
    }

    /// <summary>
    /// In the child, single-threaded, before user code. If the parent's worker existed and was idle
    /// (one flag set: it runs, but has no work), the flags are cleared, and the child's first
    /// tier-up request starts a worker of the child's own, as in a process that never had one. If it
    /// was busy (both set: delaying tier-up while new methods are called, or about to compile), the
    /// delay can only be ended by a worker, and no request would start one: the child starts it now,
    /// through the runtime's own function, unless a per-user thread limit could make that thread
    /// fail (the function then throws through a frame that cannot catch it, and the child would
    /// abort): then the flags are cleared as for an idle worker. Either way the event that wakes
    /// the worker is made anew: the parent's may list the parent's worker as its waiter.
    /// </summary>
    internal static void RepairInChild()
    {
        if (unavailable is not null || Found.Value is not { } target)
        {
            return;
        }
        byte* flags = (byte*)target.Flags;
        int set = flags[0] + flags[1];
        if (set == 0)
        {
            return; // no worker: the child's first tier-up request starts one
        }
        *(nint*)target.Event = -1;
        if (set == 1 || !Native.LibC.ThreadsUnlimited())
        {
            flags[0] = 0;
            flags[1] = 0;
            return;
        }
        // The state in which the runtime itself calls the function: the worker marked running and
        // busy by the caller, and the event not yet made.
        ((delegate* unmanaged<void>)target.CreateWorker)();
    }

    private static Target? Find()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            unavailable = $"the tiering worker's state is found only on x86-64, and this is {RuntimeInformation.ProcessArchitecture}";
            return null;
        }
        if (CoreClrImage.Current(out string? why) is not { } image)
        {
            unavailable = why;
            return null;
        }
        try
        {
            var target = Locate(image);
            var found = new Target((nint)(image.LoadAddress + target.Flags), (nint)(image.LoadAddress + target.Event), (nint)(image.LoadAddress + target.CreateWorker));
            byte* flags = (byte*)found.Flags;
            if (flags[0] > 1 || flags[1] > 1)
            {
                unavailable = $"the bytes found as the tiering worker's flags hold {flags[0]} and {flags[1]}, not booleans";
                return null;
            }
            return found;
        }
        catch (BadImageFormatException e)
        {
            unavailable = e.Message;
            return null;
        }
    }

    /// <summary>
    /// The file addresses of the worker's two flags (the lower of the pair), of its event's handle,
    /// and of the function that starts the worker. Throws <see cref="BadImageFormatException"/>
    /// when the code is not the shape this reads.
    /// </summary>
    internal static (long Flags, long Event, long CreateWorker) Locate(CoreClrImage image)
    {
        ReadOnlySpan<byte> file = image.File;
        var (rodata, text, bss, data) = (image.Section(".rodata"), image.Section(".text"), image.Section(".bss"), image.Section(".data"));
        if (rodata is not { } ro || text is not { } code)
        {
            throw new BadImageFormatException("libcoreclr.so has no .rodata or .text section");
        }
        var constants = file.Slice((int)ro.Offset, (int)ro.Size);
        int at = -1;
        foreach (var worker in WorkerNames)
        {
            var name = Encoding.Unicode.GetBytes(worker + "\0");
            at = constants.IndexOf(name);
            if (at >= 0)
            {
                if (constants[(at + 1)..].IndexOf(name) >= 0)
                {
                    throw new BadImageFormatException($"the tiering worker's name '{worker}' is in libcoreclr.so more than once");
                }
                break;
            }
        }
        if (at < 0)
        {
            throw new BadImageFormatException("the tiering worker's name is not in libcoreclr.so");
        }
        long nameAddress = ro.Address + at;
        var body = file.Slice((int)code.Offset, (int)code.Size);

        // lea reg, [rip + disp32]: REX.W (0x48 or 0x4C), 0x8D, ModRM with mod 00 and r/m 101.
        int load = -1;
        for (int i = 0; i + 7 <= body.Length; i++)
        {
            if ((body[i] & 0xFB) == 0x48 && body[i + 1] == 0x8D && (body[i + 2] & 0xC7) == 0x05 && RipTarget(code.Address, body, i, 7) == nameAddress)
            {
                if (load >= 0)
                {
                    throw new BadImageFormatException("more than one instruction loads the tiering worker's name");
                }
                load = i;
            }
        }
        if (load < 0)
        {
            throw new BadImageFormatException("no instruction loads the tiering worker's name");
        }

        // The function's start: the nearest "push rbp; mov rbp, rsp" before it, 16-byte aligned, after padding.
        int start = -1;
        for (int i = load; i >= Math.Max(1, load - 0x400); i--)
        {
            if (body[i] == 0x55 && body[i + 1] == 0x48 && body[i + 2] == 0x89 && body[i + 3] == 0xE5 && (code.Address + i) % 16 == 0 && body[i - 1] is 0xCC or 0xC3 or 0x90)
            {
                start = i;
                break;
            }
        }
        if (start < 0)
        {
            throw new BadImageFormatException("the start of the function that makes the tiering worker was not found");
        }

        // "Make the event if it is not valid": cmp qword [rip + e], -1 ... lea rdi, [rip + e].
        long eventAddress = -1;
        for (int i = start; i + 8 <= load; i++)
        {
            if (body[i] == 0x48 && body[i + 1] == 0x83 && body[i + 2] == 0x3D && body[i + 7] == 0xFF)
            {
                long candidate = RipTarget(code.Address, body, i, 8);
                for (int j = i + 8; j + 7 <= load && j < i + 32; j++)
                {
                    if (body[j] == 0x48 && body[j + 1] == 0x8D && body[j + 2] == 0x3D && RipTarget(code.Address, body, j, 7) == candidate)
                    {
                        eventAddress = candidate;
                        break;
                    }
                }
                if (eventAddress >= 0)
                {
                    break;
                }
            }
        }
        if (eventAddress < 0)
        {
            throw new BadImageFormatException("the tiering worker's event was not found");
        }

        // When the thread cannot be made, under the tiering lock: lea rdi, [lock]; call enter; the two
        // flags cleared (mov byte [f], 0 twice, or xor eax, eax and mov byte [f], al twice); lea rdi, [lock]; call leave.
        long flags = -1;
        for (int i = load; i + 12 <= body.Length && i < load + 0x400 && flags < 0; i++)
        {
            if (!IsLockCall(body, i, out int enter))
            {
                continue;
            }
            int p = i + 12;
            bool zeroInAl = body[p] == 0x31 && body[p + 1] == 0xC0;
            p += zeroInAl ? 2 : 0;
            if (ClearedByte(code.Address, body, ref p, zeroInAl) is not { } first || ClearedByte(code.Address, body, ref p, zeroInAl) is not { } second)
            {
                continue;
            }
            if (Math.Abs(first - second) == 1 && IsLockCall(body, p, out int leave) && leave != enter &&
                RipTarget(code.Address, body, i, 7) == RipTarget(code.Address, body, p, 7))
            {
                flags = Math.Min(first, second);
            }
        }
        if (flags < 0)
        {
            throw new BadImageFormatException("the tiering worker's flags were not found");
        }
        if (!Writable(flags, 2, bss, data) || !Writable(eventAddress, 8, bss, data))
        {
            throw new BadImageFormatException("what was found as the tiering worker's state is not in the library's data");
        }
        return (flags, eventAddress, code.Address + start);
    }

    /// <summary>
    /// The address that the instruction at <paramref name="p"/> clears (mov byte [rip + disp32], 0;
    /// or mov byte [rip + disp32], al when al holds 0), moving past it; null for any other instruction.
    /// </summary>
    private static long? ClearedByte(long codeAddress, ReadOnlySpan<byte> body, ref int p, bool zeroInAl)
    {
        if (p + 7 <= body.Length && body[p] == 0xC6 && body[p + 1] == 0x05 && body[p + 6] == 0x00)
        {
            p += 7;
            return RipTarget(codeAddress, body, p - 7, 7, displacementAt: 2);
        }
        if (zeroInAl && p + 6 <= body.Length && body[p] == 0x88 && body[p + 1] == 0x05)
        {
            p += 6;
            return RipTarget(codeAddress, body, p - 6, 6, displacementAt: 2);
        }
        return null;
    }

    /// <summary>lea rdi, [rip + disp32]; call rel32 — the out parameter tells the callee apart.</summary>
    private static bool IsLockCall(ReadOnlySpan<byte> body, int i, out int callee)
    {
        callee = 0;
        if (body[i] != 0x48 || body[i + 1] != 0x8D || body[i + 2] != 0x3D || body[i + 7] != 0xE8)
        {
            return false;
        }
        callee = i + 12 + BinaryPrimitives.ReadInt32LittleEndian(body[(i + 8)..]);
        return true;
    }

    /// <summary>The address that an instruction at <paramref name="i"/>, of <paramref name="length"/> bytes, names through its rip-relative disp32.</summary>
    private static long RipTarget(long codeAddress, ReadOnlySpan<byte> body, int i, int length, int displacementAt = 3) =>
        codeAddress + i + length + BinaryPrimitives.ReadInt32LittleEndian(body[(i + displacementAt)..]);

    private static bool Writable(long address, int length, (long Address, long Offset, long Size)? bss, (long Address, long Offset, long Size)? data)
    {
        foreach (var section in (ReadOnlySpan<(long Address, long Offset, long Size)?>)[bss, data])
        {
            if (section is { } s && address >= s.Address && address + length <= s.Address + s.Size)
            {
                return true;
            }
        }
        return false;
    }
}
