using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Infrastructure;

/// <summary>A <see cref="PostgreSqlTenantStore"/> with the data source it owns, for tests that build stores by hand.</summary>
public sealed class PostgreSqlTestStore : IAsyncDisposable
{
    private PostgreSqlTestStore(NpgsqlDataSource dataSource, PostgreSqlTenantStore store)
    {
        DataSource = dataSource;
        Store = store;
    }

    public NpgsqlDataSource DataSource { get; }

    public PostgreSqlTenantStore Store { get; }

    public static PostgreSqlTestStore Open(string connectionString, string schema, bool rowLevelSecurity = false, string? name = null)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (name is not null)
        {
            builder.Name = name;
        }

        var dataSource = builder.Build();
        var store = new PostgreSqlTenantStore(
            dataSource,
            new PostgreSqlStoreOptions { Schema = schema, EnableRowLevelSecurity = rowLevelSecurity, DataSourceName = name });
        return new PostgreSqlTestStore(dataSource, store);
    }

    public static string NewSchema() => "t_" + Guid.NewGuid().ToString("N")[..12];

    public async ValueTask DisposeAsync()
    {
        Store.Dispose();
        await DataSource.DisposeAsync();
    }
}

/// <summary>
/// Row-level security needs ordinary roles (superusers bypass it): an owner that migrates (so FORCE applies to it too) and an
/// application role that only has DML rights. Role names are unique per database, so test classes never share them.
/// </summary>
public sealed record RlsRoles(string OwnerConnectionString, string AppConnectionString)
{
    public static async Task<RlsRoles> CreateAsync(PostgreSqlFixture fixture, string databaseConnectionString)
    {
        var database = new NpgsqlConnectionStringBuilder(databaseConnectionString);
        string owner = database.Database + "_owner";
        string app = database.Database + "_app";

        // A password too, so the roles can log in on a TEST_DATABASE_URL server that does not trust local connections.
        string password = Guid.NewGuid().ToString("N");
        await using (var command = fixture.Admin.CreateCommand(
            $"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{owner}') THEN
                    CREATE ROLE "{owner}" LOGIN NOSUPERUSER NOBYPASSRLS;
                END IF;
                ALTER ROLE "{owner}" PASSWORD '{password}';
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app}') THEN
                    CREATE ROLE "{app}" LOGIN NOSUPERUSER NOBYPASSRLS;
                END IF;
                ALTER ROLE "{app}" PASSWORD '{password}';
            END $$;
            GRANT CREATE, CONNECT ON DATABASE "{database.Database}" TO "{owner}";
            GRANT CONNECT ON DATABASE "{database.Database}" TO "{app}";
            """))
        {
            await command.ExecuteNonQueryAsync();
        }

        return new RlsRoles(
            new NpgsqlConnectionStringBuilder(databaseConnectionString) { Username = owner, Password = password }.ConnectionString,
            new NpgsqlConnectionStringBuilder(databaseConnectionString) { Username = app, Password = password }.ConnectionString);
    }

    public string AppRole => new NpgsqlConnectionStringBuilder(AppConnectionString).Username!;

    /// <summary>Migrates <paramref name="schema"/> as the owner with row-level security on, and grants the application role DML rights.</summary>
    public async Task PrepareSchemaAsync(string schema)
    {
        await using var owner = PostgreSqlTestStore.Open(OwnerConnectionString, schema, rowLevelSecurity: true);
        await owner.Store.MigrateAsync();
        await using var grant = owner.DataSource.CreateCommand(
            $"""
            GRANT USAGE ON SCHEMA "{schema}" TO "{AppRole}";
            GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{AppRole}";
            """);
        await grant.ExecuteNonQueryAsync();
    }
}
