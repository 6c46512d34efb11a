using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class MigrationTests(PostgreSqlFixture fixture)
{
    private Task<string> DatabaseAsync() => fixture.GetDatabaseAsync(nameof(MigrationTests));

    [Fact]
    public void The_embedded_migrations_are_numbered_from_one_without_gaps()
    {
        var migrations = PostgreSqlMigrator.Migrations;

        Assert.Equal(Enumerable.Range(1, migrations.Count), migrations.Select(m => m.Version));
        Assert.Equal("0001_initial", migrations[0].Name);
        Assert.Contains("CREATE TABLE tenants", migrations[0].Sql, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrating_twice_applies_each_version_once()
    {
        string database = await DatabaseAsync();
        string schema = PostgreSqlTestStore.NewSchema();
        await using var store = PostgreSqlTestStore.Open(database, schema);

        Assert.Equal(PostgreSqlMigrator.Migrations.Select(m => m.Version), await store.Store.MigrateAsync());
        Assert.Empty(await store.Store.MigrateAsync());

        Assert.Equal(
            PostgreSqlMigrator.Migrations.Select(m => (m.Version, m.Name)),
            await VersionRowsAsync(store.DataSource, schema));
    }

    [Fact]
    public async Task Four_hosts_migrating_at_once_apply_each_version_exactly_once_without_error()
    {
        string database = await DatabaseAsync();
        string schema = PostgreSqlTestStore.NewSchema();
        var stores = Enumerable.Range(0, 4).Select(_ => PostgreSqlTestStore.Open(database, schema)).ToList();
        try
        {
            // Open the four connections first, so the migrations really race for the lock.
            foreach (var store in stores)
            {
                await using var warm = await store.DataSource.OpenConnectionAsync();
            }

            var results = await Task.WhenAll(stores.Select(s => Task.Run(() => s.Store.MigrateAsync())));

            Assert.Equal(PostgreSqlMigrator.Migrations.Select(m => m.Version), results.SelectMany(r => r).Order());
            Assert.Equal(3, results.Count(r => r.Count == 0));
            Assert.Equal(PostgreSqlMigrator.Migrations.Count, (await VersionRowsAsync(stores[0].DataSource, schema)).Count);
        }
        finally
        {
            foreach (var store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task The_tables_land_in_the_configured_schema_and_every_tenant_table_carries_business_id()
    {
        string database = await DatabaseAsync();
        string schema = PostgreSqlTestStore.NewSchema();
        await using var store = PostgreSqlTestStore.Open(database, schema);
        await store.Store.MigrateAsync();

        var tables = new Dictionary<string, bool>();
        await using (var command = store.DataSource.CreateCommand(
            """
            SELECT t.table_name,
                   EXISTS (SELECT 1 FROM information_schema.columns c
                           WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'business_id')
            FROM information_schema.tables t WHERE t.table_schema = $1
            """))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = schema });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                tables[reader.GetString(0)] = reader.GetBoolean(1);
            }
        }

        Assert.Equal(
            ["client_state", "hosts", "inbox", "inbox_unrouted", "leases", "orleans_clusters", "orleans_silos", "outbox", "schema_migrations", "secret_key_ring", "send_relay", "tenant_addresses", "tenant_api_keys", "tenant_idempotency_keys", "tenant_labels", "tenant_status", "tenants", "webhook_subscriptions"],
            tables.Keys.Order(StringComparer.Ordinal));

        // schema_migrations and the fleet's hosts (membership) describe the database and the hosts, not tenants; inbox_unrouted holds
        // deliveries for addresses that no tenant holds yet; the key ring of secrets at rest serves every tenant (each secret is bound
        // to its tenant by its purpose); the Orleans membership tables (migration 11) describe silos.
        Assert.All(tables.Where(t => t.Key is not "schema_migrations" and not "hosts" and not "inbox_unrouted" and not "secret_key_ring" and not "orleans_clusters" and not "orleans_silos"), t => Assert.True(t.Value, $"{t.Key} has no business_id"));
        await using var publicTables = store.DataSource.CreateCommand(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('tenants', 'tenant_status', 'client_state')");
        Assert.Equal(0L, await publicTables.ExecuteScalarAsync());
    }

    [Fact]
    public async Task The_database_refuses_a_row_whose_business_id_is_not_valid()
    {
        string database = await DatabaseAsync();
        string schema = PostgreSqlTestStore.NewSchema();
        await using var store = PostgreSqlTestStore.Open(database, schema);
        await store.Store.MigrateAsync();

        await using var command = store.DataSource.CreateCommand($"INSERT INTO \"{schema}\".tenants (business_id, desired_running) VALUES ($1, true)");
        command.Parameters.Add(new NpgsqlParameter { Value = "x' OR '1'='1" });
        var ex = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());

        Assert.Equal(PostgresErrorCodes.CheckViolation, ex.SqlState);
    }

    [Fact]
    public async Task The_schema_version_is_zero_before_and_the_latest_after_migrating()
    {
        string database = await DatabaseAsync();
        string schema = PostgreSqlTestStore.NewSchema();
        await using var store = PostgreSqlTestStore.Open(database, schema);

        Assert.Equal(0, await PostgreSqlMigrator.GetSchemaVersionAsync(store.DataSource, schema, CancellationToken.None));
        await store.Store.MigrateAsync();
        Assert.Equal(PostgreSqlMigrator.LatestVersion, await PostgreSqlMigrator.GetSchemaVersionAsync(store.DataSource, schema, CancellationToken.None));
    }

    [Fact]
    public async Task A_schema_newer_than_the_library_is_accepted_for_rolling_upgrades()
    {
        string database = await DatabaseAsync();
        string schema = PostgreSqlTestStore.NewSchema();
        await using var store = PostgreSqlTestStore.Open(database, schema);
        await store.Store.MigrateAsync();
        await using (var future = store.DataSource.CreateCommand($"INSERT INTO \"{schema}\".schema_migrations (version, name) VALUES (999, '0999_future')"))
        {
            await future.ExecuteNonQueryAsync();
        }

        Assert.Empty(await PostgreSqlMigrator.MigrateAsync(store.DataSource, new PostgreSqlStoreOptions { Schema = schema }, NullLogger.Instance, CancellationToken.None));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper")]
    [InlineData("with-dash")]
    [InlineData("1starts_with_digit")]
    [InlineData("pg_reserved")]
    [InlineData("x\"; DROP SCHEMA public; --")]
    [InlineData("a_name_that_is_longer_than_sixty_three_characters_is_not_an_identifier")]
    public void A_schema_name_that_is_not_a_plain_identifier_is_rejected(string schema)
    {
        using var dataSource = NpgsqlDataSource.Create("Host=127.0.0.1");

        var ex = Assert.Throws<OptionsValidationException>(() => new PostgreSqlTenantStore(dataSource, new PostgreSqlStoreOptions { Schema = schema }));

        Assert.Contains("Schema", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("multitenant")]
    [InlineData("_private")]
    [InlineData("tenants_2")]
    public void A_plain_identifier_is_a_valid_schema_name(string schema)
    {
        Assert.Null(PostgreSqlStoreOptionsValidator.ValidateSchema(schema));
    }

    private static async Task<List<(int Version, string Name)>> VersionRowsAsync(NpgsqlDataSource dataSource, string schema)
    {
        var rows = new List<(int, string)>();
        await using var command = dataSource.CreateCommand($"SELECT version, name FROM \"{schema}\".schema_migrations ORDER BY version");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt32(0), reader.GetString(1)));
        }

        return rows;
    }
}
