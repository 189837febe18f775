using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace PProcess.Extensions.Logging;

/// <summary>Logging across the fork for a host or <see cref="LoggerFactory.Create"/>.</summary>
public static class LoggingBuilderExtensions
{
    /// <summary>
    /// Makes the logger factory a <see cref="ForkedChildrenLoggerFactory"/> around the usual one (with
    /// every provider and filter registered, before or after this call): what forked children log
    /// reaches this process's providers, in each child's order, in a scope with the child's pid and job.
    /// </summary>
    public static ILoggingBuilder AddForkedChildren(this ILoggingBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(services => new ForkedChildrenLoggerFactory(new LoggerFactory(
            services.GetServices<ILoggerProvider>(),
            services.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
            services.GetService<IOptions<LoggerFactoryOptions>>(),
            services.GetService<IExternalScopeProvider>()))));
        return builder;
    }
}
