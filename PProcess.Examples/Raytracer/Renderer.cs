namespace PProcess.Examples.Raytracer;

/// <summary>
/// The PyGmy-style raytracer's image: <see cref="Width"/> x <see cref="Height"/> RGB, one job per
/// row. <see cref="RenderRow"/> is a pure function of the row number, so a forked child that
/// renders a row produces exactly the bytes its parent would.
/// </summary>
public static class Renderer
{
    public const int Width = SceneDefinition.Width;
    public const int Height = SceneDefinition.Height;

    /// <summary>Row <paramref name="y"/> (0 at the top) of the default scene: <see cref="Width"/> * 3 RGB bytes.</summary>
    public static byte[] RenderRow(int y) => Scene.Default.RenderRow(y);

    /// <summary>All <see cref="Height"/> rows, one after another in this process.</summary>
    public static byte[][] RenderSequential()
    {
        var rows = new byte[Height][];
        for (int y = 0; y < Height; y++)
        {
            rows[y] = RenderRow(y);
        }
        return rows;
    }
}
