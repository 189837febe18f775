using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using PProcess.Errors;

namespace PProcess.Runtime;

/// <summary>
/// Compiles, in the parent, the code a child runs first, so that children inherit it compiled
/// instead of each running the JIT again: the library's child-side methods once, and each job's
/// delegate target the first time it is started.
/// </summary>
internal static class ChildPath
{
    private static readonly ConcurrentDictionary<RuntimeMethodHandle, bool> Prepared = new();
    private static int libraryPrepared;

    private static int sharedMemoryPrepared;

    /// <summary>
    /// Before a fork: the library's child path once, the shared-memory transport's the first time a
    /// channel uses it, and <paramref name="body"/>'s code.
    /// </summary>
    internal static void Prepare(Delegate? body, ChannelTransportKind transport = ChannelTransportKind.Socket)
    {
        if (Interlocked.Exchange(ref libraryPrepared, 1) == 0)
        {
            // What reads runtime internals and files (the thread-pool repair's compilation, the
            // scans of libcoreclr) runs beside the compilation below, on a thread that is gone
            // before the first fork: a new process's first fork waits for the longer of the two.
            var beside = new Thread(PrepareForkPoint) { IsBackground = true, Name = "PProcess prepare" };
            beside.Start();
            foreach (var type in ChildSideTypes)
            {
                // Static constructors run on first use: in the parent now, not in every child.
                RuntimeHelpers.RunClassConstructor(type.TypeHandle);
                PrepareAll(type);
            }
            ChildRuntime.InstallInParent();
            ChildExitWatch.PrepareInParent();
            WarmUpSockets(RawSamples, error: false);
            beside.Join();
        }
        if (transport == ChannelTransportKind.SharedMemory && Interlocked.Exchange(ref sharedMemoryPrepared, 1) == 0)
        {
            WarmUpSharedMemory();
        }
        if (body is not null)
        {
            foreach (var target in body.GetInvocationList())
            {
                PrepareMethod(target.Method);
            }
        }
    }

    private static int compositePrepared;

    /// <summary>
    /// Before a fork whose child sends values of <paramref name="resultType"/> (null: not known):
    /// the paths through System.Text.Json and element by element, and of errors, the first time a
    /// child may take them. A child that sends only raw values (numbers, strings, arrays of
    /// unmanaged values: docs/channels.md) needs none of that code, and a new process's first PMap
    /// of such values does not wait for its compilation.
    /// </summary>
    internal static void PrepareResults(Type? resultType)
    {
        if (resultType is not null && CrossesRaw(resultType))
        {
            return;
        }
        if (Interlocked.Exchange(ref compositePrepared, 1) == 0)
        {
            WarmUpSockets(CompositeSamples, error: true);
        }
    }

    /// <summary>Whether the default serializer sends values of this type as raw bytes, with no JSON.</summary>
    private static bool CrossesRaw(Type type) =>
        type == typeof(void) || type == typeof(string) || type == typeof(byte[]) || type == typeof(string[]) ||
        Serialization.Primitives.CodeOf(type) is not null || Serialization.TypeNames.IsUnmanaged(type) ||
        (type.IsArray && type.GetElementType() is { } element && (Serialization.TypeNames.IsUnmanaged(element) ||
            (element.IsSZArray && Serialization.TypeNames.IsUnmanaged(element.GetElementType()!))));

    /// <summary>The fork point's own preparation, and the P/Invoke stubs a child calls.</summary>
    private static void PrepareForkPoint()
    {
        try
        {
            ThreadPoolRepair.Prepare();
            DiagnosticEndpointGuard.Prepare();
            TieringRepair.Prepare();
            // P/Invoke stubs are generated on first call; made here, the children inherit them.
            Marshal.PrelinkAll(typeof(Native.LibC));
            PrelinkCalled(typeof(Tmds.Linux.LibC));
            foreach (var type in LibCTypes)
            {
                PrepareAll(type);
            }
        }
        catch (Exception)
        {
            // Best effort: what is not prepared here is prepared by the fork point, or compiled in the child.
        }
    }

    /// <summary>
    /// Prelinks the P/Invokes of <paramref name="library"/> that this assembly calls (its member
    /// references to that type): Tmds.LibC declares hundreds, of which the library calls a few dozen.
    /// </summary>
    private static void PrelinkCalled(Type library)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var location = typeof(ChildPath).Assembly.Location;
        if (location.Length == 0)
        {
            Marshal.PrelinkAll(library); // single-file: no file to read the references from
            return;
        }
        using (var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(location)))
        {
            var metadata = System.Reflection.Metadata.PEReaderExtensions.GetMetadataReader(pe);
            foreach (var handle in metadata.MemberReferences)
            {
                var member = metadata.GetMemberReference(handle);
                if (member.Parent.Kind == System.Reflection.Metadata.HandleKind.TypeReference)
                {
                    var parent = metadata.GetTypeReference((System.Reflection.Metadata.TypeReferenceHandle)member.Parent);
                    if (metadata.StringComparer.Equals(parent.Namespace, library.Namespace!) && metadata.StringComparer.Equals(parent.Name, library.Name))
                    {
                        names.Add(metadata.GetString(member.Name));
                    }
                }
            }
        }
        foreach (var method in library.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
        {
            if (names.Contains(method.Name))
            {
                Marshal.Prelink(method);
            }
        }
    }

    /// <summary>The library's types whose code a child runs: the child runtime and the sending side of a channel.</summary>
    private static readonly Type[] ChildSideTypes =
    [
        typeof(ChildRuntime), typeof(Fork), typeof(DescriptorRegistry), typeof(ProcessIdentity), typeof(Channel),
        typeof(Channels.Frame), typeof(Transports.SocketTransport), typeof(Transports.SharedMemoryTransport),
        typeof(Transports.SharedRing), typeof(Transports.ChannelEnds), typeof(Serialization.DefaultChannelSerializer),
        typeof(Serialization.TypeNames), typeof(Serialization.Primitives), typeof(Serialization.FreshMemory), typeof(RemoteError), typeof(Native.Signals), typeof(Native.LibC), typeof(Native.Deadline), typeof(Native.SafeDescriptor),
        typeof(Native.SafeMapping), typeof(ForkPoint), typeof(StartupHandshake), typeof(ChildExitWatch), typeof(ThreadPoolRepair),
        typeof(Quiescence), typeof(DiagnosticEndpointGuard), typeof(TieringRepair), typeof(CoreClrImage), typeof(StandardErrorRelay),
        typeof(AtForkHooks), typeof(CurrentJob), typeof(ChildMessageRelay), typeof(RelayThread), typeof(HeapSharing), typeof(ChildMemorySlot),
    ];

    /// <summary>Tmds.LibC's value types: their conversions and accessors are calls (Tmds.LibC is not ReadyToRun-compiled).</summary>
    private static readonly Type[] LibCTypes =
        [typeof(Tmds.Linux.sigaction), typeof(Tmds.Linux.pid_t), typeof(Tmds.Linux.size_t), typeof(Tmds.Linux.ssize_t)];

    /// <summary>One value of each raw wire format (and of each primitive type code): DefaultChannelSerializer's paths without JSON.</summary>
    private static object?[] RawSamples =>
    [
        null, "s", new byte[] { 1 }, new string?[] { "s", null }, true, (sbyte)1, (byte)1, 'c', (short)1, (ushort)1, 1, 1u, 1L, 1UL,
        1f, 1.0, 1m, DateTime.UnixEpoch, DayOfWeek.Friday, (1, 2), new double[] { 1 }, new int[] { 1 }, new int[,] { { 1 } },
        new int[][] { [1] },
    ];

    /// <summary>Values sent element by element or through System.Text.Json, and an exception sent as a value.</summary>
    private static object?[] CompositeSamples => [new object?[] { 1, "s", null }, new List<int> { 1 }, new InvalidOperationException("x")];

    private static void PrepareAll(Type type)
    {
        const BindingFlags all = BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var method in type.GetMethods(all))
        {
            PrepareMethod(method);
        }
        foreach (var constructor in type.GetConstructors(all))
        {
            PrepareMethod(constructor);
        }
        foreach (var nested in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic))
        {
            if (!nested.ContainsGenericParameters)
            {
                PrepareAll(nested);
            }
        }
    }

    /// <summary>
    /// RuntimeHelpers.PrepareMethod compiles nothing for some methods (measured: the transport's
    /// interface methods), so a channel's own path is run once for real, over a loopback
    /// socketpair (at the first fork) or shared-memory rings (at the first shared-memory channel),
    /// with each kind of payload a child commonly sends.
    /// </summary>
    private static void WarmUpSharedMemory()
    {
        var ends = new Transports.SharedMemoryTransport.Ends();
        var (parent, child) = ends.Loopback();
        // A shared-memory reader spins before it blocks; the spin is generic, so PrepareAll skips it.
        Transports.SharedMemoryTransport.SpinUntil(parent, static t => t.DataWaiting || true, parent.SpinLimit);
        WarmUp(child, parent, [.. RawSamples, .. CompositeSamples], error: true);
    }

    private static void WarmUpSockets(object?[] samples, bool error)
    {
        var (a, b) = Transports.SocketTransport.CreatePair();
        WarmUp(new Transports.SocketTransport(a), new Transports.SocketTransport(b), samples, error);
    }

    private static void WarmUp(Transports.IChannelTransport from, Transports.IChannelTransport to, object?[] samples, bool error)
    {
        using var receiver = new Channel(to, null, null, Serialization.DefaultChannelSerializer.Instance, toParent: true);
        using var sender = new Channel(from, null, null, Serialization.DefaultChannelSerializer.Instance, toParent: true);
        foreach (var sample in samples)
        {
            sender.Send(sample);
            receiver.ArmWakeUp();
            receiver.Probe();
            // A wait with no deadline on one channel: the socket's blocking wait (ChannelSet.Round).
            receiver.Poll(null);
            receiver.Receive();
        }
        if (error)
        {
            sender.SendError(new InvalidOperationException("warm-up"));
            try
            {
                receiver.Receive();
            }
            catch (RemoteException)
            {
                // Expected: this exercised the error path.
            }
        }
        receiver.Probe();
        // Nothing is pending: this runs the poll path (ChannelSet and LibC.Poll), which a
        // shared-memory child takes whenever it blocks for a message. Without
        // it, each such child compiled those 9 methods itself
        // (ForkSafetyTests.ChildrenOverSharedMemoryCompileNoMethodsWhileTheyWait).
        receiver.Poll(TimeSpan.Zero);
    }

    /// <summary>
    /// Compiles the methods of <paramref name="type"/>, a constructed generic type whose code a
    /// child runs (a PMap child's serving loop for the map's element and result types), and of
    /// its generic methods instantiated with <paramref name="methodArguments"/>.
    /// </summary>
    internal static void PrepareType(Type type, params Type[] methodArguments)
    {
        const BindingFlags all = BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
        foreach (var method in type.GetMethods(all))
        {
            if (!method.IsGenericMethodDefinition)
            {
                PrepareMethod(method);
                continue;
            }
            foreach (var argument in methodArguments)
            {
                try
                {
                    PrepareMethod(method.MakeGenericMethod(argument));
                }
                catch (ArgumentException)
                {
                    // The argument does not meet this method's constraints.
                }
            }
        }
    }

    private static void PrepareMethod(MethodBase method)
    {
        if (method.IsAbstract || method.ContainsGenericParameters || method.DeclaringType?.ContainsGenericParameters == true)
        {
            return;
        }
        if (!Prepared.TryAdd(method.MethodHandle, true))
        {
            return;
        }
        try
        {
            // A method of a constructed generic type (a lambda's closure in a generic method, say),
            // or a generic method, is compiled for its type arguments: the runtime needs them.
            var typeArguments = method.DeclaringType is { IsGenericType: true } generic ? generic.GetGenericArguments() : [];
            var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : [];
            if (typeArguments.Length + methodArguments.Length == 0)
            {
                RuntimeHelpers.PrepareMethod(method.MethodHandle);
            }
            else
            {
                RuntimeHelpers.PrepareMethod(method.MethodHandle, [.. typeArguments.Concat(methodArguments).Select(t => t.TypeHandle)]);
            }
        }
        catch (Exception)
        {
            // Best effort: a method the runtime cannot prepare is compiled in the child as usual.
        }
    }
}
