using SkiaSharp;

namespace PProcess.Examples.Raytracer;

/// <summary>
/// Writes the raytracer's rows as a PNG through SkiaSharp (8-bit RGB, opaque). The rows are
/// rendered in children; only the parent, after collecting them, encodes the image.
/// </summary>
public static class Png
{
    /// <summary>Writes the PNG to a new file at <paramref name="path"/> (replacing one that is there).</summary>
    public static void Write(string path, int width, int height, IReadOnlyList<byte[]> rgbRows)
    {
        using var file = File.Create(path);
        Write(file, width, height, rgbRows);
    }

    /// <summary>
    /// Writes the PNG of <paramref name="rgbRows"/> (top row first, each <paramref name="width"/> * 3
    /// bytes of R, G, B) to <paramref name="stream"/>, which stays open.
    /// </summary>
    public static void Write(Stream stream, int width, int height, IReadOnlyList<byte[]> rgbRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (rgbRows.Count != height)
        {
            throw new ArgumentException($"{rgbRows.Count} rows for an image {height} high.", nameof(rgbRows));
        }
        // Rgb888x: four bytes a pixel, R, G, B and one unused; the encoder writes PNG colour type 2 (RGB).
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgb888x, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        int stride = bitmap.RowBytes;
        for (int y = 0; y < height; y++)
        {
            var row = rgbRows[y];
            if (row.Length != width * 3)
            {
                throw new ArgumentException($"row {y} has {row.Length} bytes, not {width * 3} ({width} RGB pixels).", nameof(rgbRows));
            }
            var target = pixels.Slice(y * stride, width * 4);
            for (int x = 0; x < width; x++)
            {
                target[4 * x] = row[3 * x];
                target[4 * x + 1] = row[3 * x + 1];
                target[4 * x + 2] = row[3 * x + 2];
                target[4 * x + 3] = 0xFF;
            }
        }
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, quality: 100)
            ?? throw new InvalidOperationException("SkiaSharp could not encode the image as PNG.");
        png.SaveTo(stream);
    }
}
