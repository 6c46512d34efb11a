using Microsoft.Extensions.Options;

namespace MultiTenant.PostgreSql;

/// <summary>
/// Options of the PostgreSQL store, bound from the <c>WhatsAppTenants:PostgreSql</c> configuration section (when an
/// <c>IConfiguration</c> is registered) and validated when the host starts.
/// </summary>
public sealed class PostgreSqlStoreOptions
{
    /// <summary>The configuration section the options bind to: <c>WhatsAppTenants:PostgreSql</c>.</summary>
    public const string SectionName = "WhatsAppTenants:PostgreSql";

    /// <summary>The default <see cref="Schema"/>: <c>multitenant</c>.</summary>
    public const string DefaultSchema = "multitenant";

    /// <summary>
    /// The schema that holds the store's tables; created by the migrations when missing. Default <c>multitenant</c>.
    /// An unquoted PostgreSQL identifier: 1–63 characters of <c>a-z 0-9 _</c>, starting with a letter or <c>_</c>, not starting with <c>pg_</c>.
    /// Every host of a fleet must use the same schema.
    /// </summary>
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>
    /// Whether the migrations turn on PostgreSQL row-level security (<c>ENABLE</c> and <c>FORCE</c>) on the client state table, so that a
    /// session reads and writes only the rows of the tenant named by its transaction-local <c>multitenant.business_id</c> setting (which
    /// every state-store call sets). Default <see langword="false"/>. Superusers and roles with <c>BYPASSRLS</c> are not subject to it:
    /// connect as an ordinary role. Turning it off again is a manual step (<c>ALTER TABLE … DISABLE ROW LEVEL SECURITY</c>), so a host
    /// started without it never weakens a fleet that has it.
    /// </summary>
    public bool EnableRowLevelSecurity { get; set; }

    /// <summary>
    /// Whether the host applies the schema migrations when it starts (under an advisory lock, so several hosts may start at once).
    /// Default <see langword="true"/>. When <see langword="false"/>, start-up only checks that the database is reachable and its schema
    /// is up to date (apply the migrations with <see cref="PostgreSqlTenantStore.MigrateAsync"/> from a deployment step).
    /// </summary>
    public bool ApplyMigrationsOnStart { get; set; } = true;

    /// <summary>The timeout of each store command. Default 30 s; 1 s to 10 min.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the health probe (<c>SELECT 1</c>) may take, connection included, before the database counts as unhealthy.
    /// Default 5 s; 100 ms to 1 min.
    /// </summary>
    public TimeSpan HealthCheckTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The diagnostics name of the data source (Npgsql's <c>db.client.connection.pool.name</c>), used to read the pool figures
    /// (acquired, idle, max) from Npgsql's metrics. Default <see langword="null"/>: Npgsql's own default, the connection string without
    /// its password. A data source that <c>UsePostgreSql(url)</c> builds gets this name; when the host registers its own data source with
    /// a custom <c>NpgsqlDataSourceBuilder.Name</c>, set the same name here.
    /// </summary>
    public string? DataSourceName { get; set; }
}

/// <summary>Validates <see cref="PostgreSqlStoreOptions"/> when the host starts.</summary>
internal sealed class PostgreSqlStoreOptionsValidator : IValidateOptions<PostgreSqlStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgreSqlStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (ValidateSchema(options.Schema) is { } schemaProblem)
        {
            failures.Add(schemaProblem);
        }

        Check(failures, nameof(options.CommandTimeout), options.CommandTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        Check(failures, nameof(options.HealthCheckTimeout), options.HealthCheckTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
        if (options.DataSourceName is { Length: 0 })
        {
            failures.Add($"{PostgreSqlStoreOptions.SectionName}:{nameof(options.DataSourceName)} must not be empty; leave it unset for Npgsql's default.");
        }

        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }

    /// <summary>Returns why <paramref name="schema"/> is not an acceptable schema name, or <see langword="null"/>.</summary>
    internal static string? ValidateSchema(string? schema)
    {
        const string Rule = "1 to 63 characters of a-z, 0-9 and '_', starting with a letter or '_', and not starting with 'pg_'";
        if (string.IsNullOrEmpty(schema) || schema.Length > 63 || schema.StartsWith("pg_", StringComparison.Ordinal)
            || !(char.IsAsciiLetterLower(schema[0]) || schema[0] == '_'))
        {
            return $"{PostgreSqlStoreOptions.SectionName}:{nameof(PostgreSqlStoreOptions.Schema)} must be {Rule}.";
        }

        foreach (char c in schema)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '_')
            {
                return $"{PostgreSqlStoreOptions.SectionName}:{nameof(PostgreSqlStoreOptions.Schema)} must be {Rule}.";
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> when <paramref name="options"/> are invalid.</summary>
    internal static void ThrowIfInvalid(PostgreSqlStoreOptions options) => OptionsChecks.ThrowIfInvalid(new PostgreSqlStoreOptionsValidator(), options);

    private static void Check(List<string> failures, string name, TimeSpan value, TimeSpan min, TimeSpan max) =>
        OptionsChecks.Range(failures, PostgreSqlStoreOptions.SectionName, name, value, min, max);
}
