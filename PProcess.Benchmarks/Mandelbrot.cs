namespace PProcess.Benchmarks;

/// <summary>The CPU-bound workload: rows of the Mandelbrot set, escape counts per pixel.</summary>
internal static class Mandelbrot
{
    internal const int MaxIterations = 1000;

    internal static int[] Row(int y, int width, int height)
    {
        var row = new int[width];
        double ci = (y - height / 2.0) * 3.0 / height;
        for (int x = 0; x < width; x++)
        {
            double cr = (x - width * 0.65) * 3.0 / width;
            double zr = 0, zi = 0;
            int i = 0;
            while (i < MaxIterations && zr * zr + zi * zi <= 4)
            {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                i++;
            }
            row[x] = i;
        }
        return row;
    }

    /// <summary>A checksum of all rows, so that the three ways can be compared for equality.</summary>
    internal static long Checksum(IEnumerable<int[]> rows)
    {
        long sum = 0;
        long k = 1;
        foreach (var row in rows)
        {
            foreach (var v in row)
            {
                sum += v * k;
            }
            k = k * 31 % 1_000_003;
        }
        return sum;
    }
}
