namespace PProcess.Tests.Support;

/// <summary>The repository the tests were built from.</summary>
public static class Repository
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "PProcess.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"no PProcess.sln above {AppContext.BaseDirectory}");
    });

    /// <summary>The folder that holds PProcess.sln, above the test assembly.</summary>
    public static string Root => RootPath.Value;
}
