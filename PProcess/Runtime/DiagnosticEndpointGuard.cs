using System.Runtime.InteropServices;

namespace PProcess.Runtime;

/// <summary>
/// Keeps a child's runtime from deleting the parent's diagnostic endpoints. The runtime's shutdown
/// (run by <see cref="Environment.Exit(int)"/>, a return from Main, <see cref="Environment.FailFast(string)"/>
/// or a fatal error) unlinks the files of its diagnostics server and debugger transport, named
/// after the pid they were created for: in a child that is the parent's, and dotnet-trace,
/// dotnet-counters and debuggers could no longer attach to the parent (measured: docs/fork-safety.md,
/// rule 20). A child does not own those files, so its copy of libcoreclr gets an <c>unlink</c>
/// that does nothing: its import slot (global offset table) is pointed at <c>getpid</c>, which
/// takes no argument and changes nothing. Only libcoreclr's slot is changed; the child's own file
/// deletions go through System.Native's <c>unlink</c>, which is untouched.
/// </summary>
internal static unsafe class DiagnosticEndpointGuard
{
    private static readonly Lazy<(nint Slot, nint Replacement)> Target = new(Find);

    /// <summary>Why the guard is not in force, or null when it is.</summary>
    internal static string? Unavailable { get; private set; }

    /// <summary>In the parent: finds the slot once, so that a child only writes one pointer.</summary>
    internal static void Prepare() => _ = Target.Value;

    /// <summary>In the child, before user code.</summary>
    internal static void DisarmInChild()
    {
        var (slot, replacement) = Target.Value;
        if (slot == 0)
        {
            return;
        }
        nint page = slot & ~(nint)(Environment.SystemPageSize - 1);
        // The slot is in a read-only area after relocation (RELRO): make its page writable here.
        if (Native.LibC.Mprotect(page, (nuint)Environment.SystemPageSize, Native.LibC.PROT_READ | Native.LibC.PROT_WRITE) == 0)
        {
            *(nint*)slot = replacement;
        }
    }

    private static (nint, nint) Find()
    {
        if (CoreClrImage.Current(out string? why) is not { } image)
        {
            Unavailable = why;
            return (0, 0);
        }
        long offset = image.ImportSlot("unlink");
        if (offset < 0)
        {
            Unavailable = "libcoreclr.so imports no unlink";
            return (0, 0);
        }
        try
        {
            nint replacement = NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "getpid");
            return ((nint)(image.LoadAddress + offset), replacement);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            Unavailable = e.Message;
            return (0, 0);
        }
    }
}
