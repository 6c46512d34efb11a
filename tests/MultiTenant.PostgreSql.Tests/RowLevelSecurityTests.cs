using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>
/// Row-level security, checked with hand-written SQL on raw connections (not through the store): an ordinary role scoped to one
/// tenant cannot read or write another tenant's client state.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class RowLevelSecurityTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private RlsRoles _roles = null!;
    private PostgreSqlTestStore _app = null!;

    public async Task InitializeAsync()
    {
        string database = await fixture.GetDatabaseAsync(nameof(RowLevelSecurityTests));
        _roles = await RlsRoles.CreateAsync(fixture, database);
        await _roles.PrepareSchemaAsync(_schema);
        _app = PostgreSqlTestStore.Open(_roles.AppConnectionString, _schema, rowLevelSecurity: true);
        await _app.Store.GetStore(TenantId.Parse("tenant-a")).SetAsync("device", "id", new byte[] { 0xA });
        await _app.Store.GetStore(TenantId.Parse("tenant-a")).SetAsync("sessions", "s1", new byte[] { 0xA });
        await _app.Store.GetStore(TenantId.Parse("tenant-b")).SetAsync("device", "id", new byte[] { 0xB });
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_connection_scoped_to_one_tenant_reads_only_that_tenants_rows_even_with_a_hand_written_query()
    {
        await using var connection = await OpenAsync(_roles.AppConnectionString);
        await ScopeAsync(connection, "tenant-a");

        Assert.Equal(["tenant-a", "tenant-a"], await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{_schema}\".client_state"));
        Assert.Empty(await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{_schema}\".client_state WHERE business_id = 'tenant-b'"));
        Assert.Equal(
            ["tenant-a", "tenant-a"],
            await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{_schema}\".client_state WHERE business_id = 'x' OR '1'='1'"));
    }

    [Fact]
    public async Task A_connection_that_names_no_tenant_reads_no_client_state_at_all()
    {
        await using var connection = await OpenAsync(_roles.AppConnectionString);

        Assert.Empty(await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{_schema}\".client_state"));
    }

    [Fact]
    public async Task A_connection_scoped_to_one_tenant_cannot_write_another_tenants_rows()
    {
        await using var connection = await OpenAsync(_roles.AppConnectionString);
        await ScopeAsync(connection, "tenant-a");

        await using (var insert = new NpgsqlCommand(
            $"INSERT INTO \"{_schema}\".client_state (business_id, namespace, key, value) VALUES ('tenant-b', 'device', 'forged', '\\x00')", connection))
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
        }

        await ScopeAsync(connection, "tenant-a");
        await using (var update = new NpgsqlCommand($"UPDATE \"{_schema}\".client_state SET value = '\\x00' WHERE business_id = 'tenant-b'", connection))
        {
            Assert.Equal(0, await update.ExecuteNonQueryAsync());
        }

        await using (var delete = new NpgsqlCommand($"DELETE FROM \"{_schema}\".client_state WHERE business_id <> 'tenant-a'", connection))
        {
            Assert.Equal(0, await delete.ExecuteNonQueryAsync());
        }

        await using (var steal = new NpgsqlCommand($"UPDATE \"{_schema}\".client_state SET business_id = 'tenant-b' WHERE business_id = 'tenant-a'", connection))
        {
            var ex = await Assert.ThrowsAsync<PostgresException>(() => steal.ExecuteNonQueryAsync());
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, ex.SqlState);
        }

        Assert.Equal(new byte[] { 0xB }, await _app.Store.GetStore(TenantId.Parse("tenant-b")).GetAsync("device", "id"));
        Assert.Null(await _app.Store.GetStore(TenantId.Parse("tenant-b")).GetAsync("device", "forged"));
    }

    [Fact]
    public async Task The_tenant_scope_ends_with_its_transaction_so_a_pooled_connection_does_not_carry_it()
    {
        await using var connection = await OpenAsync(_roles.AppConnectionString);
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var scope = new NpgsqlCommand("SELECT set_config('multitenant.business_id', 'tenant-a', true)", connection, transaction);
            await scope.ExecuteNonQueryAsync();
            Assert.Equal(2, (await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{_schema}\".client_state", transaction)).Count);
            await transaction.CommitAsync();
        }

        Assert.Empty(await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{_schema}\".client_state"));
    }

    [Fact]
    public async Task Row_level_security_binds_the_tables_owner_too()
    {
        await using var connection = await OpenAsync(_roles.OwnerConnectionString);

        Assert.Empty(await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{_schema}\".client_state"));
    }

    [Fact]
    public async Task Without_row_level_security_the_same_unscoped_query_sees_every_tenant()
    {
        string open = PostgreSqlTestStore.NewSchema();
        await using var owner = PostgreSqlTestStore.Open(_roles.OwnerConnectionString, open, rowLevelSecurity: false);
        await owner.Store.MigrateAsync();
        await owner.Store.GetStore(TenantId.Parse("tenant-a")).SetAsync("device", "id", new byte[] { 0xA });
        await owner.Store.GetStore(TenantId.Parse("tenant-b")).SetAsync("device", "id", new byte[] { 0xB });

        await using var connection = await OpenAsync(_roles.OwnerConnectionString);

        Assert.Equal(["tenant-a", "tenant-b"], await BusinessIdsAsync(connection, $"SELECT business_id FROM \"{open}\".client_state"));
    }

    [Fact]
    public async Task Migrations_turn_row_level_security_on_and_a_host_without_the_option_never_turns_it_off()
    {
        Assert.Equal((true, true), await RowSecurityAsync(_schema));

        await using var withoutOption = PostgreSqlTestStore.Open(_roles.OwnerConnectionString, _schema, rowLevelSecurity: false);
        await withoutOption.Store.MigrateAsync();

        Assert.Equal((true, true), await RowSecurityAsync(_schema));
    }

    private async Task<(bool Enabled, bool Forced)> RowSecurityAsync(string schema)
    {
        // pg_class is per database: ask the test database, as the superuser.
        var database = new NpgsqlConnectionStringBuilder(_roles.OwnerConnectionString)
        {
            Username = new NpgsqlConnectionStringBuilder(fixture.AdminConnectionString).Username,
        };
        await using var connection = await OpenAsync(database.ConnectionString);
        await using var command = new NpgsqlCommand(
            "SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'client_state'",
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = schema });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetBoolean(0), reader.GetBoolean(1));
    }

    private static async Task<NpgsqlConnection> OpenAsync(string connectionString)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Scopes the session (not just a transaction) to a tenant, as a hand-written client could.</summary>
    private static async Task ScopeAsync(NpgsqlConnection connection, string tenant)
    {
        await using var command = new NpgsqlCommand("SELECT set_config('multitenant.business_id', $1, false)", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = tenant });
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> BusinessIdsAsync(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        var ids = new List<string>();
        await using var command = new NpgsqlCommand(sql + " ORDER BY 1", connection, transaction);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }
}
