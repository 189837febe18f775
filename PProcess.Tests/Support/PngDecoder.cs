using SkiaSharp;

namespace PProcess.Tests.Support;

/// <summary>A decoded 8-bit RGB image: rows top first, each Width * 3 bytes.</summary>
public sealed record DecodedPng(int Width, int Height, byte[][] Rows);

/// <summary>
/// Decodes a PNG through SkiaSharp into RGB rows, so that tests compare pixels, not files.
/// Anything that is not a complete, valid PNG raises <see cref="InvalidDataException"/>.
/// </summary>
public static class PngDecoder
{
    public static DecodedPng Decode(string path) => Decode(File.ReadAllBytes(path));

    public static DecodedPng Decode(byte[] png)
    {
        using var data = SKData.CreateCopy(png);
        using var codec = SKCodec.Create(data)
            ?? throw new InvalidDataException("not an image SkiaSharp can read");
        if (codec.EncodedFormat != SKEncodedImageFormat.Png)
        {
            throw new InvalidDataException($"not a PNG but {codec.EncodedFormat}");
        }
        int width = codec.Info.Width, height = codec.Info.Height;
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = new byte[info.BytesSize];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* target = pixels)
            {
                result = codec.GetPixels(info, (IntPtr)target);
            }
        }
        if (result != SKCodecResult.Success)
        {
            throw new InvalidDataException($"the PNG does not decode: {result}");
        }
        var rows = new byte[height][];
        for (int y = 0; y < height; y++)
        {
            var row = new byte[width * 3];
            for (int x = 0; x < width; x++)
            {
                int source = (y * width + x) * 4;
                row[3 * x] = pixels[source];
                row[3 * x + 1] = pixels[source + 1];
                row[3 * x + 2] = pixels[source + 2];
            }
            rows[y] = row;
        }
        return new DecodedPng(width, height, rows);
    }
}
