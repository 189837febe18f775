using System.Buffers.Binary;
using System.IO.Hashing;
using System.IO.Compression;
using System.Text;
using PProcess.Examples;
using PProcess.Examples.Programs;
using PProcess.Examples.Raytracer;
using PProcess.Tests.Support;

namespace PProcess.Tests;

/// <summary>
/// The raytracer's PNG writer (SkiaSharp) and the tests' decoder (SkiaSharp too). So that a
/// mistake both share (channels swapped, rows flipped) cannot pass, the decoder is also checked
/// on PNGs built here byte by byte, with every filter type.
/// </summary>
public class PngTests
{
    [Fact]
    public void SmallImageRoundTripsExactly()
    {
        var rows = Synthetic(7, 5);
        var decoded = PngDecoder.Decode(Encode(7, 5, rows));
        Assert.Equal(7, decoded.Width);
        Assert.Equal(5, decoded.Height);
        Assert.Equal(rows, decoded.Rows);
    }

    [Fact]
    public void NoiseRoundTripsExactly()
    {
        // Noise does not compress: every byte must survive the encoder's filters and deflate.
        var random = new Random(12345);
        var rows = Enumerable.Range(0, 200).Select(_ => { var row = new byte[600]; random.NextBytes(row); return row; }).ToArray();
        var png = Encode(200, 200, rows);
        Assert.Equal(["IHDR", .. ChunkTypes(png).Where(t => t == "IDAT"), "IEND"], ChunkTypes(png).Where(t => t is "IHDR" or "IDAT" or "IEND"));
        Assert.Equal(rows, PngDecoder.Decode(png).Rows);
    }

    [Fact]
    public void TheWriterMakesAnEightBitRgbPng()
    {
        var png = Encode(7, 5, Synthetic(7, 5));
        Assert.Equal([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        // IHDR: width, height, bit depth 8, colour type 2 (RGB), no interlace.
        Assert.Equal("IHDR", Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(7, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(5, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.Equal((8, 2, 0), (png[24], png[25], png[28]));
    }

    [Fact]
    public void WritingToAPathMakesTheSameFile()
    {
        var rows = Synthetic(4, 3);
        var path = Path.Combine(Path.GetTempPath(), $"pprocess-png-{Guid.NewGuid():N}.png");
        try
        {
            Png.Write(path, 4, 3, rows);
            Assert.Equal(Encode(4, 3, rows), File.ReadAllBytes(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void DecoderReadsAHandMadePngWithEveryFilterType()
    {
        // Made here, not by the writer: filters 0-4 (row y uses y % 5), CRCs from System.IO.Hashing.
        const int width = 6, height = 7;
        var rows = Synthetic(width, height);
        var decoded = PngDecoder.Decode(HandMade(width, height, rows));
        Assert.Equal((width, height), (decoded.Width, decoded.Height));
        Assert.Equal(rows, decoded.Rows);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACorruptImageIsRefused(bool corruptTheCrcItself)
    {
        var png = HandMade(7, 5, Synthetic(7, 5));
        // The first IDAT chunk: signature (8) + IHDR (12 + 13) = 33.
        int idat = 33;
        Assert.Equal("IDAT", Encoding.ASCII.GetString(png, idat + 4, 4));
        int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat));
        png[corruptTheCrcItself ? idat + 8 + length : idat + 8 + length / 2] ^= 0x01;
        Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(png));
    }

    [Fact]
    public void DecoderRefusesWhatIsNotAPng()
    {
        Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(Encoding.ASCII.GetBytes("not an image at all")));
        var png = Encode(7, 5, Synthetic(7, 5));
        Assert.Throws<InvalidDataException>(() => PngDecoder.Decode(png[..(png.Length / 2)]));
    }

    /// <summary>
    /// The raytracer encodes in the parent, but SkiaSharp works in a forked child too, loading its
    /// native library there first (docs/dependencies.md).
    /// </summary>
    [Fact]
    public void AForkedChildThatFirstLoadsSkiaSharpEncodesThePng() => PProcess.Tests.Isolation.IsolatedProcess.Passes(ChildEncodesScenario);

    private static void ChildEncodesScenario()
    {
        using var channel = Fork.Start(c => c.Send(Encode(7, 5, Synthetic(7, 5))));
        var png = channel.Receive<byte[]>();
        Assert.Equal(Synthetic(7, 5), PngDecoder.Decode(png).Rows);
    }

    [Fact]
    public void WriterRejectsRowsThatDoNotFitTheSize()
    {
        Assert.Throws<ArgumentException>(() => Png.Write(Stream.Null, 7, 4, Synthetic(7, 5)));
        Assert.Throws<ArgumentException>(() => Png.Write(Stream.Null, 6, 5, Synthetic(7, 5)));
    }

    /// <summary>Bytes that vary smoothly and not, so that every filter's predictor matters.</summary>
    private static byte[][] Synthetic(int width, int height) =>
        Enumerable.Range(0, height)
            .Select(y => Enumerable.Range(0, width * 3).Select(i => (byte)(y * 37 + i * 11 + (i * y % 7) * 29)).ToArray())
            .ToArray();

    private static byte[] Encode(int width, int height, byte[][] rows)
    {
        var stream = new MemoryStream();
        Png.Write(stream, width, height, rows);
        return stream.ToArray();
    }

    private static List<string> ChunkTypes(byte[] png)
    {
        var types = new List<string>();
        for (int position = 8; position < png.Length; position += 12 + BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(position)))
        {
            types.Add(Encoding.ASCII.GetString(png, position + 4, 4));
        }
        return types;
    }

    /// <summary>An 8-bit RGB PNG written byte by byte, row y filtered with filter type y % 5.</summary>
    private static byte[] HandMade(int width, int height, byte[][] rows)
    {
        var filtered = new MemoryStream();
        using (var zlib = new ZLibStream(filtered, CompressionLevel.Fastest, leaveOpen: true))
        {
            var previous = new byte[width * 3];
            for (int y = 0; y < height; y++)
            {
                byte filter = (byte)(y % 5);
                zlib.WriteByte(filter);
                zlib.Write(Filter(filter, rows[y], previous));
                previous = rows[y];
            }
        }
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        header[9] = 2;
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        WriteChunk(png, "IHDR", header);
        WriteChunk(png, "IDAT", filtered.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static byte[] Filter(byte filter, byte[] row, byte[] previous)
    {
        var output = new byte[row.Length];
        for (int i = 0; i < row.Length; i++)
        {
            int left = i >= 3 ? row[i - 3] : 0;
            int up = previous[i];
            int upLeft = i >= 3 ? previous[i - 3] : 0;
            int predictor = filter switch
            {
                0 => 0,
                1 => left,
                2 => up,
                3 => (left + up) / 2,
                _ => Paeth(left, up, upLeft),
            };
            output[i] = (byte)(row[i] - predictor);
        }
        return output;
    }

    /// <summary>The PNG specification's Paeth predictor.</summary>
    private static int Paeth(int left, int up, int upLeft)
    {
        int p = left + up - upLeft;
        int pa = Math.Abs(p - left), pb = Math.Abs(p - up), pc = Math.Abs(p - upLeft);
        return pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        var word = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        stream.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.HashToUInt32(typeAndData));
        stream.Write(word);
    }
}

public class RaytracerTests
{
    [Fact]
    public void ARowIsWidthRgbPixels()
    {
        Assert.Equal((300, 200), (Renderer.Width, Renderer.Height));
        Assert.Equal(300 * 3, Renderer.RenderRow(0).Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => Renderer.RenderRow(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Renderer.RenderRow(200));
    }

    [Fact]
    public void RenderingARowIsDeterministic()
    {
        var first = Renderer.RenderRow(100);
        Assert.Equal(first, Renderer.RenderRow(100));
        Assert.Equal(first, Scene.Default.RenderRow(100));
        Assert.Equal(first, Renderer.RenderSequential()[100]);
    }

    [Fact]
    public void TheImageShowsSkySpheresAndACheckeredFloor()
    {
        var rows = Renderer.RenderSequential();
        (int R, int G, int B) Pixel(int x, int y) => (rows[y][3 * x], rows[y][3 * x + 1], rows[y][3 * x + 2]);

        var distinct = rows.SelectMany(row => Enumerable.Range(0, 300).Select(x => (row[3 * x], row[3 * x + 1], row[3 * x + 2]))).Distinct().Count();
        Assert.True(distinct > 5000, $"only {distinct} distinct colours");

        // The sky at the top: pale blue.
        var sky = Pixel(150, 5);
        Assert.True(sky.B > 180 && sky.B >= sky.G && sky.G >= sky.R, $"sky {sky}");
        // The floor at the bottom: light and dark squares.
        var bottom = Enumerable.Range(0, 300).Select(x => Pixel(x, 199)).ToList();
        Assert.Contains(bottom, p => p.R > 170 && p.G > 170 && p.B > 170);
        Assert.Contains(bottom, p => p.R < 90 && p.G < 90 && p.B < 90);
        Assert.DoesNotContain(sky, bottom);

        // The red sphere (upper left) and the blue one (centre right), where they are in the scene.
        var red = Pixel(100, 95);
        Assert.True(red.R > 2 * red.G && red.R > 2 * red.B, $"red sphere {red}");
        var blue = Pixel(170, 112);
        Assert.True(blue.B > 2 * blue.R && blue.B > blue.G + 40, $"blue sphere {blue}");
        // The green one, in front on the left.
        var green = Pixel(113, 128);
        Assert.True(green.G > 2 * green.R && green.G > 2 * green.B, $"green sphere {green}");
    }

    [Fact]
    public void AnUnknownVariantIsRefusedWithTheValidOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => Raytracer.Run(Options.Parse(["--variant", "nonesuch"])));
        Assert.Contains("nonesuch", error.Message);
        Assert.All(Raytracer.Variants, variant => Assert.Contains(variant, error.Message));
    }

    [Fact]
    public void TheExampleProgramWritesTheSequentialRender()
    {
        var output = Path.Combine(Path.GetTempPath(), $"pprocess-raytracer-{Guid.NewGuid():N}.png");
        try
        {
            var lines = PProcess.Tests.Isolation.ExampleRunner.Passes("raytracer", "--variant", "sequential", "--output", output)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"Rendered 300x200 (sequential) to {output}", lines[0]);
            Assert.Matches(@"^Time taken: \d+\.\d{3}$", lines[1]);

            var decoded = PngDecoder.Decode(output);
            Assert.Equal((300, 200), (decoded.Width, decoded.Height));
            Assert.Equal(Renderer.RenderSequential(), decoded.Rows);
        }
        finally
        {
            File.Delete(output);
        }
    }

    /// <summary>Each parallel variant forks a child per row (or reuses --limit children): its PNG must equal the sequential render.</summary>
    [Theory]
    [InlineData("exchange")]
    [InlineData("queue")]
    [InlineData("pmap")]
    [InlineData("reuse")]
    public void EveryParallelVariantWritesExactlyTheSequentialRender(string variant)
    {
        var output = Path.Combine(Path.GetTempPath(), $"pprocess-raytracer-{variant}-{Guid.NewGuid():N}.png");
        try
        {
            var stdout = PProcess.Tests.Isolation.ExampleRunner.Passes("raytracer", "--variant", variant, "--output", output, "--limit", "4");
            Assert.StartsWith($"Rendered 300x200 ({variant}) to {output}", stdout);
            var decoded = PngDecoder.Decode(output);
            Assert.Equal((300, 200), (decoded.Width, decoded.Height));
            Assert.Equal(Renderer.RenderSequential(), decoded.Rows);
        }
        finally
        {
            File.Delete(output);
        }
    }
}
