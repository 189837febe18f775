namespace PProcess.Examples.Raytracer;

/// <summary>
/// Shapes, lights and a camera, and how a ray's colour is found: ambient light, Phong diffuse
/// and specular shading from each light that the point can see (shadows), mirror reflection to
/// <see cref="MaxDepth"/> bounces, a sky and distance fog. Immutable: rendering reads it only.
/// </summary>
public sealed class Scene(Camera camera, IReadOnlyList<Shape> shapes, IReadOnlyList<Light> lights, Vec3 ambient, int width, int height)
{
    /// <summary>Reflection bounces after the first hit.</summary>
    public const int MaxDepth = 4;

    /// <summary>How far along the normal secondary rays start, so that they do not hit their own surface.</summary>
    private const double SurfaceOffset = 1e-6;

    private readonly Shape[] shapes = [.. shapes];
    private readonly Light[] lights = [.. lights];

    private const double FogStart = 12;
    private const double FogEnd = 45;

    private static readonly Vec3 Horizon = new(0.78, 0.85, 0.95);
    private static readonly Vec3 Zenith = new(0.25, 0.45, 0.80);

    public int Width { get; } = width;

    public int Height { get; } = height;

    /// <summary>The 300x200 scene: five spheres on a checkered floor, two lights.</summary>
    public static Scene Default { get; } = SceneDefinition.Create();

    /// <summary>Row <paramref name="y"/> (0 at the top) as <see cref="Width"/> * 3 bytes of RGB.</summary>
    public byte[] RenderRow(int y)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, Height);
        var row = new byte[Width * 3];
        for (int x = 0; x < Width; x++)
        {
            var colour = Trace(camera.RayThrough(x, y, Width, Height), 0);
            row[3 * x] = ToByte(colour.X);
            row[3 * x + 1] = ToByte(colour.Y);
            row[3 * x + 2] = ToByte(colour.Z);
        }
        return row;
    }

    /// <summary>The colour seen along <paramref name="ray"/>, <paramref name="depth"/> reflections deep.</summary>
    public Vec3 Trace(in Ray ray, int depth)
    {
        var (shape, distance) = Nearest(ray);
        if (shape is null)
        {
            return Sky(ray.Direction);
        }
        var point = ray.At(distance);
        var normal = shape.NormalAt(point);
        if (normal.Dot(ray.Direction) > 0)
        {
            normal = -normal;
        }
        var material = shape.MaterialAt(point);
        var colour = Shade(point, normal, ray.Direction, material);
        if (material.Reflectivity > 0 && depth < MaxDepth)
        {
            var reflected = new Ray(point + normal * SurfaceOffset, ray.Direction.Reflect(normal));
            colour = colour * (1 - material.Reflectivity) + Trace(reflected, depth + 1) * material.Reflectivity;
        }
        double fog = Math.Clamp((distance - FogStart) / (FogEnd - FogStart), 0, 1);
        return colour * (1 - fog) + Horizon * fog;
    }

    private (Shape? Shape, double Distance) Nearest(in Ray ray)
    {
        Shape? nearest = null;
        double distance = double.PositiveInfinity;
        foreach (var shape in shapes)
        {
            double t = shape.Intersect(ray);
            if (t < distance)
            {
                distance = t;
                nearest = shape;
            }
        }
        return (nearest, distance);
    }

    private Vec3 Shade(Vec3 point, Vec3 normal, Vec3 direction, Material material)
    {
        var colour = ambient * material.Colour;
        var origin = point + normal * SurfaceOffset;
        foreach (var light in lights)
        {
            var toLight = light.Position - origin;
            double lightDistance = toLight.Length;
            var l = toLight * (1.0 / lightDistance);
            double lambert = normal.Dot(l);
            if (lambert <= 0 || InShadow(new Ray(origin, l), lightDistance))
            {
                continue;
            }
            colour += material.Colour * light.Colour * lambert;
            double highlight = (-l).Reflect(normal).Dot(-direction);
            if (highlight > 0 && material.Specular > 0)
            {
                colour += light.Colour * (material.Specular * Math.Pow(highlight, material.Shininess));
            }
        }
        return colour;
    }

    private bool InShadow(in Ray toLight, double lightDistance)
    {
        foreach (var shape in shapes)
        {
            if (shape.Intersect(toLight) < lightDistance)
            {
                return true;
            }
        }
        return false;
    }

    private static Vec3 Sky(Vec3 direction)
    {
        double up = Math.Clamp(direction.Y, 0, 1);
        return Horizon * (1 - up) + Zenith * up;
    }

    private static byte ToByte(double channel) => (byte)(Math.Clamp(channel, 0, 1) * 255 + 0.5);
}
