namespace PProcess.Examples.Raytracer;

/// <summary>
/// How a surface shades: its diffuse colour, the strength and tightness of its specular
/// highlight (Phong), and the fraction of light it reflects like a mirror.
/// </summary>
public sealed record Material(Vec3 Colour, double Specular, double Shininess, double Reflectivity);
