using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>
/// Prepares the database when the host starts, before any hosted service's <c>StartAsync</c> (so before the coordinator resumes
/// tenants): applies the migrations, or checks the schema version when <see cref="PostgreSqlStoreOptions.ApplyMigrationsOnStart"/> is off.
/// An unreachable server or an outdated schema fails start-up with a <see cref="PostgreSqlStoreStartupException"/>.
/// </summary>
internal sealed class PostgreSqlStoreInitializer(
    PostgreSqlTenantStore store,
    IOptions<PostgreSqlStoreOptions> options,
    NpgsqlDataSource dataSource,
    ILogger<PostgreSqlStoreInitializer>? logger = null,
    OwnedDataSource? owned = null) : IHostedLifecycleService
{
    private readonly ILogger _logger = logger ?? (ILogger)NullLogger.Instance;

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        if (owned is not null && !owned.Created)
        {
            Log.HostDataSourceUsed(_logger);
        }

        try
        {
            if (options.Value.ApplyMigrationsOnStart)
            {
                await store.MigrateAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            int version = await PostgreSqlMigrator.GetSchemaVersionAsync(dataSource, store.Schema, cancellationToken).ConfigureAwait(false);
            if (version < PostgreSqlMigrator.LatestVersion)
            {
                throw new PostgreSqlStoreStartupException(
                    $"The PostgreSQL schema '{store.Schema}' is at version {version}, but this library needs version {PostgreSqlMigrator.LatestVersion}. " +
                    $"Apply the migrations (PostgreSqlTenantStore.MigrateAsync) or set {PostgreSqlStoreOptions.SectionName}:{nameof(PostgreSqlStoreOptions.ApplyMigrationsOnStart)} to true. ({Describe(dataSource)})");
            }
        }
        catch (Exception ex) when ((ex is NpgsqlException or SocketException or TimeoutException) && !cancellationToken.IsCancellationRequested)
        {
            string reason = ex is PostgresException
                ? "the PostgreSQL server refused the store's set-up"
                : "the PostgreSQL server could not be reached";
            string detail = owned?.Scrub(ex.Message) ?? ex.Message;
            throw new PostgreSqlStoreStartupException(
                $"The PostgreSQL store could not start: {reason} ({Describe(dataSource)}): {detail}", ex);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Where the store connects, without the password.</summary>
    private static string Describe(NpgsqlDataSource dataSource)
    {
        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        return $"host {settings.Host}, port {settings.Port}, database '{settings.Database ?? settings.Username}', user '{settings.Username}'";
    }
}

/// <summary>The data source that <c>UsePostgreSql(url)</c> builds, unless the host registered its own.</summary>
internal sealed class OwnedDataSource(NpgsqlConnectionStringBuilder settings)
{
    private volatile bool _created;

    public bool Created => _created;

    public NpgsqlDataSource Create(IServiceProvider services)
    {
        var builder = new NpgsqlDataSourceBuilder(settings.ConnectionString);
        if (services.GetService(typeof(ILoggerFactory)) is ILoggerFactory loggerFactory)
        {
            builder.UseLoggerFactory(loggerFactory);
        }

        if (services.GetService(typeof(IOptions<PostgreSqlStoreOptions>)) is IOptions<PostgreSqlStoreOptions> { Value.DataSourceName: { } name })
        {
            builder.Name = name;
        }

        _created = true;
        return builder.Build();
    }

    /// <summary>
    /// A second data source on the same server and credentials with a pool of its own (at most <paramref name="maxPoolSize"/>
    /// connections), named after the first with a <c>-fleet</c> suffix, for the fleet's coordination traffic.
    /// </summary>
    public NpgsqlDataSource CreateCoordination(IServiceProvider services, int maxPoolSize)
    {
        var coordination = new NpgsqlConnectionStringBuilder(settings.ConnectionString)
        {
            MaxPoolSize = maxPoolSize,
            MinPoolSize = 0,
            Pooling = true,
            ApplicationName = (string.IsNullOrEmpty(settings.ApplicationName) ? "multitenant" : settings.ApplicationName) + "-fleet",
        };
        var builder = new NpgsqlDataSourceBuilder(coordination.ConnectionString);
        if (services.GetService(typeof(ILoggerFactory)) is ILoggerFactory loggerFactory)
        {
            builder.UseLoggerFactory(loggerFactory);
        }

        builder.Name = (services.GetService(typeof(IOptions<PostgreSqlStoreOptions>)) as IOptions<PostgreSqlStoreOptions>)?.Value.DataSourceName is { } name
            ? name + "-fleet"
            : "multitenant-fleet";
        return builder.Build();
    }

    /// <summary>Removes the password from a message, should a server or driver ever echo it.</summary>
    public string Scrub(string message) =>
        string.IsNullOrEmpty(settings.Password) ? message : message.Replace(settings.Password, "***", StringComparison.Ordinal);
}

/// <summary>
/// The PostgreSQL store could not start: the server is unreachable, refused the connection or the set-up, or the schema is outdated.
/// The message says where the store connects (host, port, database, user) and why, and never contains the password.
/// </summary>
public sealed class PostgreSqlStoreStartupException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed; must not contain secrets.</param>
    /// <param name="innerException">The cause, when there is one.</param>
    public PostgreSqlStoreStartupException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
