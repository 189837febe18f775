using System.Collections.Concurrent;
using System.Reflection;
using System.Text;

namespace PProcess.Serialization;

/// <summary>
/// Type names on the wire. Parent and child run the same binary, so a name written by one always
/// resolves in the other. Both directions are cached.
/// </summary>
internal static class TypeNames
{
    private static readonly ConcurrentDictionary<Type, byte[]> Names = new();
    private static readonly ConcurrentDictionary<string, Type> Types = new();
    private static readonly ConcurrentDictionary<Type, bool> Unmanaged = new();

    internal static byte[] NameOf(Type type) => Names.GetOrAdd(type, static t =>
        Encoding.UTF8.GetBytes(t.Assembly == typeof(object).Assembly ? t.FullName! : t.AssemblyQualifiedName!));

    internal static Type Resolve(string name) => Types.GetOrAdd(name, static n =>
        Type.GetType(n, throwOnError: false) ?? throw new ChannelProtocolException($"The type '{n}' named by a message cannot be loaded."));

    private static readonly ConcurrentDictionary<Type, int> Sizes = new();

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
