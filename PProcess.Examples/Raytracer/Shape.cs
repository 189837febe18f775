namespace PProcess.Examples.Raytracer;

/// <summary>Something a ray can hit.</summary>
public abstract class Shape
{
    /// <summary>Intersections closer than this are taken as the ray's own starting surface.</summary>
    public const double Epsilon = 1e-9;

    /// <summary>The distance along <paramref name="ray"/> of the nearest hit in front of its origin, or +infinity.</summary>
    public abstract double Intersect(in Ray ray);

    /// <summary>The outward unit normal at <paramref name="point"/> on the surface.</summary>
    public abstract Vec3 NormalAt(Vec3 point);

    /// <summary>The material at <paramref name="point"/> on the surface.</summary>
    public abstract Material MaterialAt(Vec3 point);
}
