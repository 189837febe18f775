using Mono.Unix.Native;

namespace PProcess.Native;

/// <summary>Helpers to turn a failed system call into an exception that names the call.</summary>
internal static class NativeErrors
{
    internal static IOException Error(string call, Mono.Unix.Native.Errno errno) =>
        new($"{call} failed: {errno} ({StdlibStrerror(errno)})", (int)errno);

    private static string StdlibStrerror(Mono.Unix.Native.Errno errno)
    {
        try { return Syscall.strerror(errno); }
        catch (Exception) { return "unknown error"; }
    }

    internal static Mono.Unix.Native.Errno FromLastPInvoke() =>
        NativeConvert.ToErrno(System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
}
