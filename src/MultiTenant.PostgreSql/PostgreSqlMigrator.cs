using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>One numbered SQL migration embedded in the assembly (<c>Migrations/NNNN_name.sql</c>).</summary>
internal sealed record PostgreSqlMigration(int Version, string Name, string Sql);

/// <summary>
/// Applies the embedded migrations: in one transaction that holds a transaction-level advisory lock (so hosts starting at once apply
/// them one after the other, and the later ones find nothing to do), recording each applied version in <c>schema_migrations</c>.
/// </summary>
internal static class PostgreSqlMigrator
{
    private const string ResourcePrefix = "MultiTenant.PostgreSql.Migrations.";

    /// <summary>The migrations of this version of the library, in ascending order of version.</summary>
    public static IReadOnlyList<PostgreSqlMigration> Migrations { get; } = LoadMigrations();

    /// <summary>The schema version this library expects.</summary>
    public static int LatestVersion => Migrations[^1].Version;

    /// <summary>Applies the missing migrations. Returns the versions applied (empty when the schema was up to date).</summary>
    public static async Task<IReadOnlyList<int>> MigrateAsync(
        NpgsqlDataSource dataSource, PostgreSqlStoreOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        string schema = options.Schema;
        string quoted = QuoteIdentifier(schema);
        var applied = new List<int>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Serialises concurrent migrators of the same schema; released at commit or rollback.
        await ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", cancellationToken, "multitenant.migrations." + schema)
            .ConfigureAwait(false);

        bool schemaExists = await ScalarAsync<bool>(
            connection, transaction, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)", cancellationToken, schema).ConfigureAwait(false);
        if (!schemaExists)
        {
            await ExecuteAsync(connection, transaction, $"CREATE SCHEMA {quoted}", cancellationToken).ConfigureAwait(false);
        }

        await ExecuteAsync(
            connection,
            transaction,
            $"""
            CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            cancellationToken).ConfigureAwait(false);

        var existing = new HashSet<int>();
        await using (var command = new NpgsqlCommand($"SELECT version FROM {quoted}.schema_migrations", connection, transaction))
        {
            command.CommandTimeout = MigrationCommandTimeoutSeconds;
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                existing.Add(reader.GetInt32(0));
            }
        }

        foreach (var migration in Migrations)
        {
            if (existing.Contains(migration.Version))
            {
                continue;
            }

            // The scripts use unqualified names: they land in the configured schema.
            await ExecuteAsync(connection, transaction, $"SET LOCAL search_path TO {quoted}", cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(connection, transaction, migration.Sql, cancellationToken).ConfigureAwait(false);
            await ExecuteAsync(
                connection,
                transaction,
                $"INSERT INTO {quoted}.schema_migrations (version, name) VALUES ($1, $2)",
                cancellationToken,
                migration.Version,
                migration.Name).ConfigureAwait(false);
            applied.Add(migration.Version);
        }

        int newest = existing.Count == 0 ? 0 : existing.Max();
        if (newest > LatestVersion)
        {
            Log.SchemaNewerThanLibrary(logger, schema, newest, LatestVersion);
        }

        if (options.EnableRowLevelSecurity)
        {
            await EnableRowLevelSecurityAsync(connection, transaction, schema, logger, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (applied.Count > 0)
        {
            Log.MigrationsApplied(logger, schema, string.Join(", ", applied), LatestVersion);
        }
        else
        {
            Log.SchemaUpToDate(logger, schema, Math.Max(newest, LatestVersion));
        }

        return applied;
    }

    /// <summary>Reads the newest applied version, or 0 when the schema or its version table does not exist.</summary>
    public static async Task<int> GetSchemaVersionAsync(NpgsqlDataSource dataSource, string schema, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        bool tableExists = await ScalarAsync<bool>(
            connection,
            null,
            "SELECT to_regclass(format('%I.schema_migrations', $1::text)) IS NOT NULL",
            cancellationToken,
            schema).ConfigureAwait(false);
        if (!tableExists)
        {
            return 0;
        }

        return await ScalarAsync<int>(
            connection, null, $"SELECT coalesce(max(version), 0) FROM {QuoteIdentifier(schema)}.schema_migrations", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Quotes a schema name already validated by <see cref="PostgreSqlStoreOptionsValidator.ValidateSchema"/>.</summary>
    public static string QuoteIdentifier(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private const int MigrationCommandTimeoutSeconds = 300;

    private static async Task EnableRowLevelSecurityAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, ILogger logger, CancellationToken cancellationToken)
    {
        // Only ever turns it on (ALTER TABLE takes an exclusive lock, so skip it when already on).
        const string Sql = """
            SELECT c.relrowsecurity AND c.relforcerowsecurity
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relname = 'client_state'
            """;
        bool enabled = await ScalarAsync<bool>(connection, transaction, Sql, cancellationToken, schema).ConfigureAwait(false);
        if (!enabled)
        {
            string table = QuoteIdentifier(schema) + ".client_state";
            await ExecuteAsync(
                connection,
                transaction,
                $"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
                cancellationToken).ConfigureAwait(false);
            Log.RowLevelSecurityEnabled(logger, schema);
        }
    }

    private static async Task ExecuteAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = MigrationCommandTimeoutSeconds };
        foreach (object parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ScalarAsync<T>(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = MigrationCommandTimeoutSeconds };
        foreach (object parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        object? result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return (T)result!;
    }

    private static List<PostgreSqlMigration> LoadMigrations()
    {
        var assembly = typeof(PostgreSqlMigrator).Assembly;
        var migrations = new List<PostgreSqlMigration>();
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            string fileName = resource[ResourcePrefix.Length..^".sql".Length];
            int underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(fileName.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out int version))
            {
                throw new InvalidOperationException($"The embedded migration '{fileName}' is not named NNNN_name.sql.");
            }

            migrations.Add(new PostgreSqlMigration(version, fileName, ReadResource(assembly, resource)));
        }

        migrations.Sort(static (a, b) => a.Version.CompareTo(b.Version));
        for (int i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException("The embedded migrations must be numbered 1, 2, 3, … without gaps or duplicates.");
            }
        }

        if (migrations.Count == 0)
        {
            throw new InvalidOperationException("No embedded migrations were found.");
        }

        return migrations;
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
