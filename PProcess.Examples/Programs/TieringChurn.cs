using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace PProcess.Examples.Programs;

/// <summary>
/// Keeps the runtime's tiered compilation at work in a parent that forks, for fork_soak --tiering
/// (docs/fork-safety.md, rule 8): generic methods instantiated over CoreLib's value types are called
/// for the first time in bursts (each burst starts the tiering delay) and then again and again, so
/// that they pass their call count and the tiering worker compiles them while the parent forks. A
/// child calls methods its parent never called, far past their call count, and a sample of children
/// waits until one is promoted.
/// </summary>
internal static class TieringChurn
{
    private static readonly Type[] Types = typeof(object).Assembly.GetExportedTypes()
        .Where(t => t.IsValueType && t != typeof(void) && !t.IsGenericType && !t.IsByRefLike && !t.IsEnum && t.GetCustomAttribute<ObsoleteAttribute>() is null)
        .OrderBy(t => t.FullName, StringComparer.Ordinal)
        .ToArray();

    private static readonly MethodInfo TouchMethod = typeof(TieringChurn).GetMethod(nameof(Touch), BindingFlags.NonPublic | BindingFlags.Static)!;

    private static readonly Dictionary<int, Func<int, int>> Touches = [];

    /// <summary>How many distinct instantiations the parent has called so far.</summary>
    internal static int Instantiated => Touches.Count;

    /// <summary>
    /// Called by the parent for each element it reads: every 40th element brings 8 new
    /// instantiations (called for the first time); every element calls the last 64 again.
    /// </summary>
    internal static int Churn(int element)
    {
        lock (Touches)
        {
            return ChurnLocked(element);
        }
    }

    private static int ChurnLocked(int element)
    {
        int newest = Touches.Count;
        if (element % 40 == 0)
        {
            for (int i = 0; i < 8; i++)
            {
                var (first, second) = (Types[(newest + i) % Types.Length], Types[(newest + i) / Types.Length % Types.Length]);
                Touches[newest + i] = TouchMethod.MakeGenericMethod(first, second).CreateDelegate<Func<int, int>>();
            }
            newest += 8;
        }
        int sum = 0;
        for (int i = Math.Max(0, newest - 64); i < newest; i++)
        {
            sum += Touches[i](element);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Touch<T1, T2>(int x) => (x * 31 + Unsafe.SizeOf<T1>()) ^ Unsafe.SizeOf<T2>();

    /// <summary>
    /// The child's job: a method its parent never called, 200 times (past its call count of 30),
    /// and, when <paramref name="waitForPromotion"/>, until the child has compiled something again
    /// without calling anything new (a promotion: docs/fork-safety.md, rule 8). Returns the job's
    /// value, or -1 when no promotion came within 20 s.
    /// </summary>
    internal static long ChildJob(int x, bool waitForPromotion)
    {
        long sum = 0;
        for (int i = 0; i < 200; i++)
        {
            sum += ChildOnly(x + i);
        }
        if (waitForPromotion)
        {
            var clock = Stopwatch.StartNew();
            long before = System.Runtime.JitInfo.GetCompiledMethodCount();
            while (System.Runtime.JitInfo.GetCompiledMethodCount() == before)
            {
                if (clock.Elapsed > TimeSpan.FromSeconds(20))
                {
                    return -1;
                }
                for (int i = 0; i < 1000; i++)
                {
                    sum += ChildOnly(i) & 1;
                }
                Thread.Sleep(1);
            }
            sum -= sum; // the work above only waited
            for (int i = 0; i < 200; i++)
            {
                sum += ChildOnly(x + i);
            }
        }
        return sum;
    }

    /// <summary>What <see cref="ChildJob"/> returns for <paramref name="x"/>, computed in the parent with other code.</summary>
    internal static long Expected(int x)
    {
        long sum = 0;
        for (int i = 0; i < 200; i++)
        {
            int y = x + i;
            sum += (y * 17) ^ (y >> 2);
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ChildOnly(int y) => (y * 17) ^ (y >> 2);
}
