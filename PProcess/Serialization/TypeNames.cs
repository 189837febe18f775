using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text;

namespace PProcess.Serialization;

/// <summary>
/// Type names on the wire: a 16-bit little-endian length and the UTF-8 name. Parent and child run
/// the same binary, so a name written by one resolves in the other (among the assemblies loaded:
/// see <see cref="Resolve(string)"/>). Both directions are cached, and a name read back is looked up
/// without allocating a string. Whether the receive wants the type is <see cref="ExpectedTypes"/>' question.
/// </summary>
internal static class TypeNames
{
    private static readonly ConcurrentDictionary<Type, byte[]> Names = new();
    private static readonly ConcurrentDictionary<string, Type> Types = new();
    private static readonly ConcurrentDictionary<string, Type>.AlternateLookup<ReadOnlySpan<char>> TypesByChars =
        Types.GetAlternateLookup<ReadOnlySpan<char>>();
    private static readonly ConcurrentDictionary<Type, bool> Unmanaged = new();
    private static readonly ConcurrentDictionary<Type, int> Sizes = new();

    /// <summary>The type's name as written on the wire, length prefix included.</summary>
    internal static byte[] NameOf(Type type) => Names.GetOrAdd(type, static t =>
    {
        var name = Encoding.UTF8.GetBytes(t.Assembly == typeof(object).Assembly ? t.FullName! : t.AssemblyQualifiedName!);
        var prefixed = new byte[2 + name.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(prefixed, checked((ushort)name.Length));
        name.CopyTo(prefixed, 2);
        return prefixed;
    });

    /// <summary>The type a name read from the wire (UTF-8, without its prefix) stands for.</summary>
    internal static Type Resolve(ReadOnlySpan<byte> utf8)
    {
        Span<char> chars = utf8.Length <= 512 ? stackalloc char[utf8.Length] : new char[utf8.Length];
        int n = Encoding.UTF8.GetChars(utf8, chars);
        return TypesByChars.TryGetValue(chars[..n], out var type) ? type : Resolve(new string(chars[..n]));
    }

    /// <summary>
    /// A type by its name among the assemblies this process has loaded: a name from the wire never
    /// makes the runtime load an assembly (which runs its module initializers), whatever it says.
    /// </summary>
    internal static Type Resolve(string name) => Types.GetOrAdd(name, static n =>
        Type.GetType(n, LoadedAssembly, null, throwOnError: false)
        ?? throw new ChannelProtocolException($"The type '{n}' named by a message is not among the types this process has loaded."));

    private static System.Reflection.Assembly? LoadedAssembly(System.Reflection.AssemblyName name)
    {
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (string.Equals(assembly.GetName().Name, name.Name, StringComparison.Ordinal))
            {
                return assembly;
            }
        }
        return null;
    }

    /// <summary>The size in bytes of a value of an unmanaged type, as an array element.</summary>
    internal static int SizeOf(Type type) => Sizes.GetOrAdd(type, static t => System.Runtime.CompilerServices.RuntimeHelpers.SizeOf(t.TypeHandle));

    /// <summary>True for a value type with no references inside: its bytes are the value.</summary>
    internal static bool IsUnmanaged(Type type) => Unmanaged.GetOrAdd(type, static t => Compute(t, 0));

    private static bool Compute(Type type, int depth)
    {
        if (type.IsPrimitive || type.IsEnum || type.IsPointer || type.IsFunctionPointer)
        {
            return true;
        }
        if (!type.IsValueType || type.IsGenericTypeDefinition || depth > 64)
        {
            return false;
        }
        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            if (!Compute(field.FieldType, depth + 1))
            {
                return false;
            }
        }
        return true;
    }
}
