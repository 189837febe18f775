using System.Runtime.InteropServices;

namespace PProcess.Tests.Support;

/// <summary>
/// The harness that the tests and the benchmark share (docs/performance.md, "Copy-on-write that
/// holds"): the parent's data of issue 27 (a <c>Dictionary&lt;string, List&lt;int&gt;&gt;</c>), a
/// child's work on it (it reads the dictionary, then makes garbage, or retains a cache that grows
/// and is halved, as a long-lived worker's does, or collects everything), and the probe that a
/// child runs at the end of each job to say what it no longer shares. The probe uses nothing of
/// the library, so that it measures any version of it the same way:
/// <list type="bullet">
/// <item>private memory: Private_Dirty of /proc/self/smaps_rollup, every page the child has
/// written (its own objects, and the parent's pages it copied);</item>
/// <item>its own objects: the most its managed heap in use grew over what it held at the child's
/// first job (the inherited heap), sampled at each job's start and end, and just before the last
/// collection one of them saw (the heap peaks there);</item>
/// <item>un-shared: private memory beyond that peak. It counts the pages of the parent the child
/// copied, its runtime's own pages (about 2 MB), and pages its collections freed and kept. A
/// collection that copies the inherited heap into pages that the same collection freed of the
/// child's own garbage adds nothing to it (the child's memory did not grow), so it is checked by:</item>
/// <item>the parent's data pages no longer shared: the pages holding a sample of the dictionary's
/// objects (every 64th entry's key, list and array, taken at the child's first job, before its
/// first collection), looked up in /proc/self/pagemap: the fraction of them no longer mapped by
/// the parent too (bit 56, "exclusively mapped"). A page the parent itself rewrote since the fork
/// counts too: then it is no longer shared either.</item>
/// </list>
/// </summary>
public static class CopyOnWrite
{
    /// <summary>What a child does with its element after reading the dictionary.</summary>
    public enum Workload
    {
        /// <summary>Nothing more: reads only.</summary>
        ReadOnly,

        /// <summary>Allocates arrays and drops them.</summary>
        Garbage,

        /// <summary>Adds the arrays to a cache that lives as long as the child, halved when it reaches its cap.</summary>
        Retain,

        /// <summary>Reads, then calls <c>GC.Collect(2)</c>: the user's own full collection.</summary>
        Collect,
    }

    /// <summary>How much a job does: lookups in the dictionary, <c>int[64]</c> arrays made, and the cache's cap.</summary>
    public readonly record struct Scale(int Lookups, int Arrays, int CacheCap)
    {
        /// <summary>Issue 27's: 200,000 lookups, 150,000 arrays a job, a cache of 600,000 halved.</summary>
        public static Scale Issue => new(200_000, 150_000, 600_000);
    }

    /// <summary>What a child measured at the end of a job, and the job's answer.</summary>
    public readonly record struct Reading(int Pid, long PrivateBytes, long InheritedBytes, long OwnPeakBytes, int FullCollections, double CopiedData, long Answer)
    {
        /// <summary>Private memory beyond the most its own objects took.</summary>
        public long UnsharedBytes => Math.Max(0, PrivateBytes - OwnPeakBytes);

        /// <inheritdoc />
        public override string ToString() =>
            $"pid {Pid}: private {PrivateBytes >> 20} MB, own peak {OwnPeakBytes >> 20} MB, un-shared {UnsharedBytes >> 20} MB, " +
            $"{CopiedData:P0} of the parent's data pages copied, {FullCollections} full collections";
    }

    /// <summary>The parent's data, read by the children.</summary>
    public static Dictionary<string, List<int>> Data { get; private set; } = [];

    private static string[] keys = [];

    /// <summary>Fills <see cref="Data"/> with <paramref name="entries"/> entries; 2.5 million make a heap of about 400 MB.</summary>
    public static void BuildParent(int entries)
    {
        var data = new Dictionary<string, List<int>>();
        keys = new string[entries];
        for (int i = 0; i < entries; i++)
        {
            var key = "key" + i;
            keys[i] = key;
            data[key] = [i, i + 1, i + 2];
        }
        Data = data;
    }

    /// <summary>What <see cref="Job"/> answers for <paramref name="seed"/>: the sum of the looked-up lists' first values.</summary>
    public static long Expected(int seed, Scale scale)
    {
        var random = new Random(seed);
        long sum = 0;
        for (int i = 0; i < scale.Lookups; i++)
        {
            sum += random.Next(keys.Length);
        }
        return sum;
    }

    // The child's own state, made again in each process: its cache, and the probe's baseline.
    private static int statePid;
    private static List<object> cache = [];
    private static long inherited, ownPeak, lastIndex;
    private static int fullAtStart;

    /// <summary>One job of a child: reads the dictionary, does the workload, and measures itself.</summary>
    public static Reading Job(int seed, Workload workload, Scale scale)
    {
        Begin();
        var random = new Random(seed);
        long sum = 0;
        for (int i = 0; i < scale.Lookups; i++)
        {
            sum += Data[keys[random.Next(keys.Length)]][0];
        }
        switch (workload)
        {
            case Workload.Garbage:
                for (int i = 0; i < scale.Arrays; i++)
                {
                    var array = new int[64];
                    array[0] = i;
                    GC.KeepAlive(array);
                }
                break;
            case Workload.Retain:
                for (int i = 0; i < scale.Arrays; i++)
                {
                    cache.Add(new int[64]);
                }
                if (cache.Count >= scale.CacheCap)
                {
                    cache.RemoveRange(0, cache.Count / 2);
                }
                break;
            case Workload.Collect:
                GC.Collect(2);
                break;
        }
        return Measure(sum);
    }

    /// <summary>The first call in a process records what it inherited; each call samples its heap.</summary>
    private static void Begin()
    {
        if (statePid != Environment.ProcessId)
        {
            statePid = Environment.ProcessId;
            cache = [];
            inherited = GC.GetTotalMemory(false);
            lastIndex = GC.GetGCMemoryInfo().Index;
            fullAtStart = GC.CollectionCount(2);
            ownPeak = 0;
            dataPages = SampleDataPages();
        }
        Sample();
    }

    /// <summary>The parent's data pages this process watches (page numbers, sorted).</summary>
    private static long[] dataPages = [];

    /// <summary>The pages holding every 64th entry's key, list and the list's array: the parent's objects, where they are at the fork.</summary>
    private static long[] SampleDataPages()
    {
        var pages = new HashSet<long>();
        for (int i = 0; i < keys.Length; i += 64)
        {
            var list = Data[keys[i]];
            pages.Add(Address(keys[i]) >> 12);
            pages.Add(Address(list) >> 12);
            pages.Add(ItemsAddress(list) >> 12);
        }
        var sorted = pages.ToArray();
        Array.Sort(sorted);
        return sorted;
    }

    /// <summary>Where a list's first item is: in its array.</summary>
    private static unsafe long ItemsAddress(List<int> list) =>
        (long)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetReference(CollectionsMarshal.AsSpan(list)));

    /// <summary>Where an object is now (the reference's value); the parent's objects are old, and no collection of the child moves them before it copies them.</summary>
    private static unsafe long Address(object o) => *(long*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref o);

    /// <summary>The fraction of <see cref="dataPages"/> that /proc/self/pagemap says are mapped by this process alone (bit 56).</summary>
    private static double CopiedDataFraction()
    {
        if (dataPages.Length == 0)
        {
            return 0;
        }
        using var pagemap = File.OpenHandle("/proc/self/pagemap");
        var window = new byte[8 * 512];
        int exclusive = 0;
        for (int i = 0; i < dataPages.Length;)
        {
            // One read per run of pages within 512 of the first.
            long first = dataPages[i];
            int read = RandomAccess.Read(pagemap, window, first * 8);
            if (read < 8)
            {
                throw new InvalidDataException($"/proc/self/pagemap has no entry for page {first:x}.");
            }
            for (; i < dataPages.Length && dataPages[i] - first < read / 8; i++)
            {
                ulong entry = BitConverter.ToUInt64(window, (int)(dataPages[i] - first) * 8);
                if ((entry >> 63 & 1) == 1 && (entry >> 56 & 1) == 1)
                {
                    exclusive++;
                }
            }
        }
        return (double)exclusive / dataPages.Length;
    }

    private static void Sample()
    {
        ownPeak = Math.Max(ownPeak, GC.GetTotalMemory(false) - inherited);
        var last = GC.GetGCMemoryInfo();
        if (last.Index > lastIndex)
        {
            long before = 0;
            foreach (var generation in last.GenerationInfo)
            {
                before += generation.SizeBeforeBytes - generation.FragmentationBeforeBytes;
            }
            ownPeak = Math.Max(ownPeak, before - inherited);
        }
    }

    private static Reading Measure(long answer)
    {
        Sample();
        return new Reading(Environment.ProcessId, PrivateDirty("self"), inherited, ownPeak, GC.CollectionCount(2) - fullAtStart, CopiedDataFraction(), answer);
    }

    /// <summary>Private_Dirty of /proc/<paramref name="process"/>/smaps_rollup in bytes ("self", or a pid).</summary>
    public static long PrivateDirty(string process)
    {
        foreach (var line in File.ReadLines($"/proc/{process}/smaps_rollup"))
        {
            if (line.StartsWith("Private_Dirty:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
            }
        }
        throw new InvalidDataException($"/proc/{process}/smaps_rollup has no Private_Dirty line.");
    }

    /// <summary>The parent's managed heap in use now, in bytes: the measure of "the parent's heap".</summary>
    public static long ParentHeap() => GC.GetTotalMemory(false);

    /// <summary>Whether this machine's kernel has /proc/self/smaps_rollup (Linux 4.14 and later).</summary>
    public static bool CanMeasure => RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && File.Exists("/proc/self/smaps_rollup");
}
