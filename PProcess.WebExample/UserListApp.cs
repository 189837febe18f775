using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace PProcess.WebExample;

/// <summary>
/// The web application: <c>GET /users</c> renders the user list, through the worker pool
/// (<c>?pool=true</c>, the default), sequentially on the request's thread (<c>?pool=false</c>), or
/// in awaited forks (<c>?via=fork</c>: each range in a child of its own, <see cref="ForkTask"/>,
/// as xfork's request handlers do; at most <see cref="Cores.Usable"/> children at once across
/// all requests).
/// django-multicore's DRF list view, in ASP.NET Core. The pool's workers each hold a SQLite
/// connection opened once, in the worker, by the pool's initializer.
/// </summary>
public static class UserListApp
{
    /// <summary>Builds the app; the pool must already exist (it was forked before the host's threads).</summary>
    public static WebApplication Build(string url, string database, WorkerPool<SqliteConnection> pool, int cost, double? maxLoadPerCore)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(url);
        var app = builder.Build();
        int count;
        using (var db = UserTable.Open(database))
        {
            count = UserTable.Count(db);
        }
        app.MapGet("/", () => Results.Text("see /users\n"));
        var forks = new ForkTaskOptions { Limit = Cores.Usable };
        app.MapGet("/users", async (HttpContext context) =>
        {
            bool usePool = context.Request.Query["pool"] != "false";
            string page;
            if (context.Request.Query["via"] == "fork")
            {
                // Each range rendered in a child forked for it, which opens its own connection: the
                // request's thread awaits the children (a pool thread, while others serve requests).
                var ranges = UserTable.Ranges(count, Cores.Usable * 2, cost);
                var rendered = await Task.WhenAll(ranges.Select(range => ForkTask.Run(() =>
                {
                    using var db = UserTable.Open(database);
                    return UserTable.Render(db, range);
                }, forks, context.RequestAborted)));
                page = UserTable.Page(rendered);
                context.Response.Headers["X-Rendered-By"] = "fork";
            }
            else if (usePool && pool.IsWorthIt(maxLoadPerCore))
            {
                // One range per job, a few per worker, rendered in parallel and joined in order.
                var ranges = UserTable.Ranges(count, pool.Size * 2, cost);
                page = UserTable.Page(await pool.MapAsync(UserTable.RenderInWorker, ranges));
                context.Response.Headers["X-Rendered-By"] = "pool";
            }
            else
            {
                using var db = UserTable.Open(database);
                page = UserTable.Page([UserTable.Render(db, new RowRange(0, count, cost))]);
                context.Response.Headers["X-Rendered-By"] = "sequential";
            }
            return Results.Content(page, "text/html; charset=utf-8");
        });
        return app;
    }

    /// <summary>The address the started app listens on (port 0 resolved).</summary>
    public static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}
