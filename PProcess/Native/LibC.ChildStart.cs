using System.Runtime.InteropServices;

namespace PProcess.Native;

/// <summary>
/// The fork, and the calls a child makes in its first moments, before its start is checked: all
/// declared by hand, without a GC transition. Returning from a normal P/Invoke waits while a
/// collection is in progress, and a collection that a thread of the parent had begun never ends in
/// the child; neither Tmds.LibC nor Mono.Posix declares calls that way (docs/dependencies.md).
/// </summary>
internal static unsafe partial class LibC
{
    /// <summary>
    /// fork(2) as the raw clone syscall, not glibc's fork(): glibc's marks the stacks of the
    /// parent's other threads free in the child, the child's first new thread then runs on one of
    /// them, and the runtime, which still walks those threads' stacks at every GC, aborts the child
    /// (docs/fork-safety.md, rule 17). Returns the child's pid, 0 in the child, or -1 with errno in
    /// <see cref="Marshal.GetLastSystemError"/>.
    /// </summary>
    internal static int RawFork() => (int)SyscallNoTransition(CloneNumber, SIGCHLD, 0, 0, 0, 0);

    [LibraryImport(Library, EntryPoint = "syscall")]
    [SuppressGCTransition]
    private static partial nint SyscallNoTransition(nint number, nint a1, nint a2, nint a3, nint a4, nint a5);

    private const int SIGCHLD = 17;

    /// <summary>clone's number: the generic table's on arm64, riscv64 and loongarch64; x86-64's own; 32-bit Arm's.</summary>
    private static readonly nint CloneNumber = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 56,
        Architecture.Arm64 or Architecture.RiscV64 or Architecture.LoongArch64 => 220,
        Architecture.Arm => 120,
        var other => throw new PlatformNotSupportedException($"PProcess forks with the clone syscall, whose number it does not know on {other}."),
    };

    /// <summary>signal(2): sets a disposition; <see cref="SIG_DFL"/> restores the default.</summary>
    [LibraryImport(Library, EntryPoint = "signal")]
    [SuppressGCTransition]
    internal static partial nint Signal(int signal, nint handler);

    /// <summary>setpgid(2): <c>SetProcessGroup(0, 0)</c> makes the caller the leader of a new process group.</summary>
    [LibraryImport(Library, EntryPoint = "setpgid")]
    [SuppressGCTransition]
    internal static partial int SetProcessGroup(int pid, int processGroup);

    [LibraryImport(Library, EntryPoint = "getppid")]
    [SuppressGCTransition]
    internal static partial int GetParentPid();

    /// <summary>prctl(2), which neither Tmds.LibC nor Mono.Posix binds.</summary>
    [LibraryImport(Library, EntryPoint = "prctl")]
    [SuppressGCTransition]
    internal static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary>mprotect(2), for <see cref="Runtime.DiagnosticEndpointGuard"/>.</summary>
    [LibraryImport(Library, EntryPoint = "mprotect")]
    [SuppressGCTransition]
    internal static partial int Mprotect(nint address, nuint length, int protection);

    internal const int PROT_READ = 1;
    internal const int PROT_WRITE = 2;
}
