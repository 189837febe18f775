using System.Collections.Concurrent;
using System.Reflection;

namespace PProcess.Serialization;

/// <summary>
/// Which types a receive builds from the type names a message carries (docs/channels.md, "Which
/// types are built"). A type named on the wire is built only if the receive expects it: it is the
/// expected type (or, for an array, has its element type), or it is assignable to the expected type
/// and is plain data. Plain data is, for raw bytes, an unmanaged type made only of numbers,
/// booleans, characters and enums (no pointer, and no struct holding an <c>IntPtr</c>, whose bytes
/// a peer could forge into a handle: a <c>GCHandle</c>); for JSON, a type that is not a delegate, an exception, a
/// piece of reflection, or a resource (<see cref="IDisposable"/>, <see cref="MarshalByRefObject"/>).
/// An untyped receive expects <see cref="object"/>, so it builds any plain data.
/// </summary>
internal static class ExpectedTypes
{
    private static readonly ConcurrentDictionary<(Type Built, Type Expected, bool Raw), string?> Verdicts = new();
    private static readonly ConcurrentDictionary<Type, bool> Plain = new();

    /// <summary>
    /// Throws <see cref="ChannelProtocolException"/> unless a receive of <paramref name="expected"/>
    /// may build a <paramref name="built"/>; <paramref name="raw"/> when its bytes are the value's memory.
    /// </summary>
    internal static void Check(Type built, Type expected, bool raw)
    {
        if (built == expected)
        {
            return;
        }
        if (Verdicts.GetOrAdd((built, expected, raw), static key => Judge(key.Built, key.Expected, key.Raw)) is { } refusal)
        {
            throw new ChannelProtocolException(refusal);
        }
    }

    private static string? Judge(Type built, Type expected, bool raw)
    {
        if (!expected.IsAssignableFrom(built) && Nullable.GetUnderlyingType(expected) != built)
        {
            return $"the message holds a {built}, and this receive expects a {expected}: a type it does not expect is not built";
        }
        if (Exact(built, expected))
        {
            return null;
        }
        var data = built.IsArray ? built.GetElementType()! : built;
        while (data.IsArray)
        {
            data = data.GetElementType()!;
        }
        bool plain = raw ? IsPlainMemory(data) : IsPlainObject(data);
        return plain ? null
            : $"the message holds a {built}, which is not plain data{(raw ? " (its bytes hold a pointer or a handle)" : " (a delegate, an exception, reflection, or a resource)")}, " +
              $"and this receive expects a {expected}: receive it as that exact type if it is meant";
    }

    /// <summary>The expected type itself, its nullable's value, or an array of its element type.</summary>
    private static bool Exact(Type built, Type expected) =>
        built == Nullable.GetUnderlyingType(expected)
        || (built.IsArray && expected.IsArray && built.GetElementType() == expected.GetElementType());

    /// <summary>True for numbers, booleans, characters, enums and structs of them only.</summary>
    internal static bool IsPlainMemory(Type type) => Plain.GetOrAdd(type, static t => PlainMemory(t, 0));

    private static bool PlainMemory(Type type, int depth)
    {
        if (type.IsEnum)
        {
            return true;
        }
        if (type.IsPrimitive)
        {
            // A bare nint is a number; a struct that holds one (a GCHandle) gives it a meaning a peer could forge.
            return depth == 0 || (type != typeof(IntPtr) && type != typeof(UIntPtr));
        }
        if (!type.IsValueType || type.IsPointer || type.IsFunctionPointer || depth > 64)
        {
            return false;
        }
        foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            if (!PlainMemory(field.FieldType, depth + 1))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Not a delegate, an exception, reflection or a resource; nor a generic type of one (a <c>List&lt;HttpClient&gt;</c>).</summary>
    private static bool IsPlainObject(Type type) =>
        NotAResource(type) && (!type.IsGenericType || type.GetGenericArguments().All(a => (a.IsArray ? a.GetElementType()! : a) is var e && (e.IsArray || IsPlainObject(e))));

    private static bool NotAResource(Type type) =>
        !typeof(Delegate).IsAssignableFrom(type)
        && !typeof(Exception).IsAssignableFrom(type)
        && !typeof(MemberInfo).IsAssignableFrom(type)
        && !typeof(Assembly).IsAssignableFrom(type)
        && !typeof(Module).IsAssignableFrom(type)
        && !typeof(ParameterInfo).IsAssignableFrom(type)
        && !typeof(IDisposable).IsAssignableFrom(type)
        && !typeof(IAsyncDisposable).IsAssignableFrom(type)
        && !typeof(MarshalByRefObject).IsAssignableFrom(type)
        && !type.IsPointer && !type.IsByRef;
}
