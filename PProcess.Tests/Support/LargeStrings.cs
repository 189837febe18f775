namespace PProcess.Tests.Support;

/// <summary>Large strings for the tests of large results: made fast, and compared so that a lost, doubled or shifted block shows.</summary>
internal static class LargeStrings
{
    /// <summary>A string of 1 GiB (UTF-16: 512 Mi characters).</summary>
    internal const int GibibyteOfChars = 1 << 29;

    /// <summary>The pattern's period: a prime, so that no chunk or page size is a multiple of it.</summary>
    private const int Period = 1_048_573;

    /// <summary>A string of <paramref name="length"/> characters repeating a random block of a prime length (not a power of two).</summary>
    internal static string Patterned(int length) => string.Create(length, 0, static (chars, _) =>
    {
        // Huge pages, as the library's receiving side asks for: faulting in 1 GiB in 4 KiB pages took over a second here.
        PProcess.Serialization.FreshMemory.PrepareForFill(
            ref System.Runtime.InteropServices.MemoryMarshal.AsBytes(chars)[0], (long)chars.Length * 2);
        var random = new Random(14);
        int block = Math.Min(Period, chars.Length);
        for (int i = 0; i < block; i++)
        {
            chars[i] = (char)random.Next(0x20, 0xD7FF);
        }
        for (int at = block; at < chars.Length; at += block)
        {
            chars[..Math.Min(block, chars.Length - at)].CopyTo(chars[at..]);
        }
    });

    internal static void AssertSame(string expected, string? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(expected.AsSpan().SequenceEqual(actual), "the large string arrived changed");
    }
}
