namespace PProcess.Examples.Raytracer;

/// <summary>A pinhole camera at <see cref="Position"/> looking at a point, with a vertical field of view.</summary>
public sealed class Camera
{
    private readonly Vec3 forward;
    private readonly Vec3 right;
    private readonly Vec3 up;
    private readonly double halfHeight;

    public Camera(Vec3 position, Vec3 lookAt, double verticalFieldOfViewDegrees)
    {
        Position = position;
        forward = (lookAt - position).Normalized();
        right = new Vec3(0, 1, 0).Cross(forward).Normalized();
        up = forward.Cross(right);
        halfHeight = Math.Tan(verticalFieldOfViewDegrees * Math.PI / 360);
    }

    public Vec3 Position { get; }

    /// <summary>The ray through the centre of pixel (<paramref name="x"/>, <paramref name="y"/>), row 0 at the top.</summary>
    public Ray RayThrough(int x, int y, int width, int height)
    {
        double halfWidth = halfHeight * width / height;
        double u = (2 * (x + 0.5) / width - 1) * halfWidth;
        double v = (1 - 2 * (y + 0.5) / height) * halfHeight;
        return new Ray(Position, (forward + right * u + up * v).Normalized());
    }
}
