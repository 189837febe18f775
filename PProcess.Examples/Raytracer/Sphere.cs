namespace PProcess.Examples.Raytracer;

/// <summary>A sphere of one material.</summary>
public sealed class Sphere(Vec3 centre, double radius, Material material) : Shape
{
    public Vec3 Centre { get; } = centre;

    public double Radius { get; } = radius;

    public override double Intersect(in Ray ray)
    {
        // |o + t d - c|^2 = r^2 with |d| = 1: t^2 + 2 b t + c = 0.
        var offset = ray.Origin - Centre;
        double b = offset.Dot(ray.Direction);
        double c = offset.Dot(offset) - Radius * Radius;
        double discriminant = b * b - c;
        if (discriminant < 0)
        {
            return double.PositiveInfinity;
        }
        double root = Math.Sqrt(discriminant);
        double near = -b - root;
        if (near > Epsilon)
        {
            return near;
        }
        double far = -b + root;
        return far > Epsilon ? far : double.PositiveInfinity;
    }

    public override Vec3 NormalAt(Vec3 point) => (point - Centre) * (1.0 / Radius);

    public override Material MaterialAt(Vec3 point) => material;
}
