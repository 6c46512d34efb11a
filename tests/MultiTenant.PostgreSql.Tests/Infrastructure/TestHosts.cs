using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace MultiTenant.PostgreSql.Tests.Infrastructure;

/// <summary>Real generic hosts (hosted services, options validation on start, lifecycle order) for the integration tests.</summary>
public static class TestHosts
{
    public static IHost Build(
        Action<IServiceCollection> configure, IDictionary<string, string?>? configuration = null, LogLevel minimumLevel = LogLevel.Debug)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());

        // Every host of the tests has the same key-encryption key, as a fleet's hosts do; a test may override it.
        builder.Configuration.AddInMemoryCollection([new("WhatsAppTenants:Secrets:KeyEncryptionKey", SecretScan.KeyEncryptionKey)]);
        if (configuration is not null)
        {
            builder.Configuration.AddInMemoryCollection(configuration);
        }

        builder.Logging.SetMinimumLevel(minimumLevel);
        builder.Logging.AddFakeLogging();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        configure(builder.Services);
        return builder.Build();
    }

    /// <summary>Every log line the host wrote, with exception text, for checks that no secret was logged.</summary>
    public static string AllLogText(this IHost host)
    {
        var collector = host.Services.GetFakeLogCollector();
        return string.Join('\n', collector.GetSnapshot().Select(r => r.Message + " " + r.Exception));
    }
}
