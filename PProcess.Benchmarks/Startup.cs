using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace PProcess.Benchmarks;

/// <summary>
/// A minimal ASP.NET Core app's start-up: from the process's start to one answered request and a
/// stopped host, in milliseconds. <c>PProcess.Benchmarks webstart</c> runs it in a process with
/// the package's settings; PProcess.Benchmarks.Baselines runs the same code with the runtime's
/// defaults (and a web app's server GC), so that the table shows what referencing PProcess costs
/// a web app's start (docs/performance.md).
/// </summary>
internal static class Startup
{
    internal static async Task<double> WebAppMilliseconds()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/", () => "hello");
        await app.StartAsync();
        var address = app.Urls.First();
        using (var client = new HttpClient())
        {
            if (await client.GetStringAsync(address) != "hello")
            {
                throw new InvalidOperationException("the web app answered something else");
            }
        }
        await app.StopAsync();
        return (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalMilliseconds;
    }

    /// <summary>Prints <see cref="WebAppMilliseconds"/>.</summary>
    internal static int Run()
    {
        Console.WriteLine(WebAppMilliseconds().GetAwaiter().GetResult().ToString(CultureInfo.InvariantCulture));
        return 0;
    }
}
