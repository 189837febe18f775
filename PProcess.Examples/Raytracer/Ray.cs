namespace PProcess.Examples.Raytracer;

/// <summary>A half-line from <see cref="Origin"/> along the unit vector <see cref="Direction"/>.</summary>
public readonly record struct Ray(Vec3 Origin, Vec3 Direction)
{
    public Vec3 At(double t) => Origin + Direction * t;
}
