namespace PProcess.Examples.Raytracer;

/// <summary>The objects, lights and camera of <see cref="Scene.Default"/>.</summary>
internal static class SceneDefinition
{
    public const int Width = 300;
    public const int Height = 200;

    public static Scene Create()
    {
        var camera = new Camera(position: new Vec3(0, 2.2, -7.5), lookAt: new Vec3(0, 0.9, 0), verticalFieldOfViewDegrees: 45);
        Shape[] shapes =
        [
            new Floor(height: 0, square: 1,
                light: new Material(new Vec3(0.85, 0.85, 0.80), Specular: 0.1, Shininess: 20, Reflectivity: 0.15),
                dark: new Material(new Vec3(0.20, 0.22, 0.25), Specular: 0.1, Shininess: 20, Reflectivity: 0.15)),
            // A red sphere at the back left, a mirror at the back right, blue, green and yellow in front.
            new Sphere(new Vec3(-1.6, 1.1, 1.2), 1.1, new Material(new Vec3(0.85, 0.15, 0.12), Specular: 0.6, Shininess: 40, Reflectivity: 0.2)),
            new Sphere(new Vec3(1.7, 1.3, 1.8), 1.3, new Material(new Vec3(0.90, 0.90, 0.92), Specular: 0.9, Shininess: 120, Reflectivity: 0.75)),
            new Sphere(new Vec3(0.6, 0.7, -0.6), 0.7, new Material(new Vec3(0.15, 0.30, 0.90), Specular: 0.7, Shininess: 60, Reflectivity: 0.1)),
            new Sphere(new Vec3(-0.9, 0.45, -1.7), 0.45, new Material(new Vec3(0.15, 0.75, 0.20), Specular: 0.5, Shininess: 30, Reflectivity: 0)),
            new Sphere(new Vec3(2.4, 0.4, -1.4), 0.4, new Material(new Vec3(0.95, 0.80, 0.10), Specular: 0.5, Shininess: 30, Reflectivity: 0.05)),
        ];
        Light[] lights =
        [
            new Light(new Vec3(-6, 9, -6), new Vec3(0.7, 0.7, 0.68)),
            new Light(new Vec3(6, 6, -6), new Vec3(0.55, 0.5, 0.45)),
        ];
        return new Scene(camera, shapes, lights, ambient: new Vec3(0.12, 0.12, 0.14), Width, Height);
    }
}
