namespace PProcess.Examples.Raytracer;

/// <summary>A point light of a colour (its intensity per channel).</summary>
public sealed record Light(Vec3 Position, Vec3 Colour);
