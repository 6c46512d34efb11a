using Microsoft.Extensions.Logging;

namespace MultiTenant.PostgreSql;

/// <summary>The event ids of the PostgreSQL store's log messages (2000–2099), for filtering and alerting.</summary>
public static class PostgreSqlEventIds
{
    /// <summary>Schema migrations were applied.</summary>
    public const int MigrationsApplied = 2000;

    /// <summary>The schema was already up to date.</summary>
    public const int SchemaUpToDate = 2001;

    /// <summary>The database schema is newer than this library knows (a rolling upgrade in progress, or a downgrade).</summary>
    public const int SchemaNewerThanLibrary = 2002;

    /// <summary>Row-level security was turned on for the client state table.</summary>
    public const int RowLevelSecurityEnabled = 2003;

    /// <summary>The database health probe failed.</summary>
    public const int HealthCheckFailed = 2010;

    /// <summary>The database answered the health probe again after a failure.</summary>
    public const int HealthRecovered = 2011;

    /// <summary>A row that the library cannot read (for example an edited business id) was skipped.</summary>
    public const int UnreadableRowSkipped = 2020;

    /// <summary>The host registered its own NpgsqlDataSource, so the connection string given to UsePostgreSql is not used.</summary>
    public const int HostDataSourceUsed = 2030;

    /// <summary>The LISTEN connection of the inbox, the outbox or the fleet's channel failed; it reconnects (consumers poll meanwhile).</summary>
    public const int NotificationListenerFailed = 2040;
}

/// <summary>All log messages of MultiTenant.PostgreSql. Never logs connection strings or passwords.</summary>
internal static partial class Log
{
    [LoggerMessage(PostgreSqlEventIds.MigrationsApplied, LogLevel.Information,
        "Applied PostgreSQL schema migrations {Versions} to schema {Schema} (now at version {Version})")]
    public static partial void MigrationsApplied(ILogger logger, string schema, string versions, int version);

    [LoggerMessage(PostgreSqlEventIds.SchemaUpToDate, LogLevel.Debug, "PostgreSQL schema {Schema} is up to date (version {Version})")]
    public static partial void SchemaUpToDate(ILogger logger, string schema, int version);

    [LoggerMessage(PostgreSqlEventIds.SchemaNewerThanLibrary, LogLevel.Warning,
        "PostgreSQL schema {Schema} is at version {DatabaseVersion}, newer than this library's {LibraryVersion}; continuing (migrations are additive)")]
    public static partial void SchemaNewerThanLibrary(ILogger logger, string schema, int databaseVersion, int libraryVersion);

    [LoggerMessage(PostgreSqlEventIds.RowLevelSecurityEnabled, LogLevel.Information,
        "Row-level security turned on for {Schema}.client_state")]
    public static partial void RowLevelSecurityEnabled(ILogger logger, string schema);

    [LoggerMessage(PostgreSqlEventIds.HealthCheckFailed, LogLevel.Warning, "The PostgreSQL health probe failed: {Problem}")]
    public static partial void HealthCheckFailed(ILogger logger, string problem, Exception exception);

    [LoggerMessage(PostgreSqlEventIds.HealthRecovered, LogLevel.Information, "The PostgreSQL server answers the health probe again")]
    public static partial void HealthRecovered(ILogger logger);

    [LoggerMessage(PostgreSqlEventIds.UnreadableRowSkipped, LogLevel.Warning,
        "Skipped a row of {Table} whose business id is not valid (it was not written by this library)")]
    public static partial void UnreadableRowSkipped(ILogger logger, string table);

    [LoggerMessage(PostgreSqlEventIds.HostDataSourceUsed, LogLevel.Warning,
        "An NpgsqlDataSource registered by the host is used by the PostgreSQL store; the connection string given to UsePostgreSql(...) is not used")]
    public static partial void HostDataSourceUsed(ILogger logger);

    [LoggerMessage(PostgreSqlEventIds.NotificationListenerFailed, LogLevel.Warning,
        "The PostgreSQL notification listener of channel {Channel} failed; it reconnects, and consumers poll meanwhile")]
    public static partial void NotificationListenerFailed(ILogger logger, string channel, Exception exception);
}
