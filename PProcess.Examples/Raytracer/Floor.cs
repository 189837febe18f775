namespace PProcess.Examples.Raytracer;

/// <summary>The horizontal plane y = <see cref="Height"/>, a checkerboard of two materials in squares of side <see cref="Square"/>.</summary>
public sealed class Floor(double height, double square, Material light, Material dark) : Shape
{
    private static readonly Vec3 Up = new(0, 1, 0);

    public double Height { get; } = height;

    public double Square { get; } = square;

    public override double Intersect(in Ray ray)
    {
        if (Math.Abs(ray.Direction.Y) < Epsilon)
        {
            return double.PositiveInfinity;
        }
        double t = (Height - ray.Origin.Y) / ray.Direction.Y;
        return t > Epsilon ? t : double.PositiveInfinity;
    }

    public override Vec3 NormalAt(Vec3 point) => Up;

    public override Material MaterialAt(Vec3 point)
    {
        long column = (long)Math.Floor(point.X / Square);
        long row = (long)Math.Floor(point.Z / Square);
        return ((column + row) & 1) == 0 ? light : dark;
    }
}
