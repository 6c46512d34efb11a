using System.Globalization;
using MultiTenant.Inbox;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Security;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>
/// <see cref="PostgreSqlTenantStore.PurgeAsync"/> (issue 13, <c>DELETE /api/tenants/{id}?purge=true</c>) on a real database: every
/// row of the tenant is gone from every table that has one, and the other tenant's rows are all still there.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PurgeTests(PostgreSqlFixture fixture)
{
    private static readonly TenantId Gone = TenantId.Parse("gone1");
    private static readonly TenantId Kept = TenantId.Parse("kept1");

    private static async Task<Dictionary<string, long>> CountRowsAsync(NpgsqlDataSource dataSource, string schema, TenantId tenant)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string table in PostgreSqlTenantStore.PurgedTables)
        {
            await using var command = dataSource.CreateCommand($"SELECT count(*) FROM \"{schema}\".{table} WHERE business_id = $1");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
            counts[table] = (long)(await command.ExecuteScalarAsync())!;
        }

        return counts;
    }

    private static async Task SeedAsync(PostgreSqlTenantStore store, TenantId tenant, int n)
    {
        await store.SetDesiredStateAsync(tenant, running: true, CancellationToken.None);
        await store.UpsertAsync([new TenantStatus(tenant, TenantState.Connected, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, "h1")], CancellationToken.None);
        await store.GetStore(tenant).SetAsync("cloudapi", "credentials", new byte[] { 1, 2, 3 });
        await store.GetStore(tenant).SetAsync("device", "keys", new byte[] { 4, 5 });
        await new PostgreSqlTenantApiKeyStore(store).CreateAsync(tenant, TenantApiKeys.Hash(TenantApiKeys.Generate()));
        await new PostgreSqlTenantAddressIndex(store).ClaimAsync(new TenantAddress("cloudapi", "1555000" + n.ToString(CultureInfo.InvariantCulture)), tenant);
        await new PostgreSqlTenantLabelStore(store).SetAsync(tenant, new Dictionary<string, string> { ["env"] = "prod" + n.ToString(CultureInfo.InvariantCulture) });
        await new PostgreSqlTenantInbox(store).WriteAsync(
        [
            new InboxWrite(tenant, "m/1", "cloudapi", "message", new byte[] { 7 }),
            new InboxWrite(tenant, "m/2", "cloudapi", "message", new byte[] { 8 }),
        ]);
    }

    [Fact]
    public async Task Purge_deletes_every_row_of_the_tenant_in_the_database_and_none_of_another_tenant()
    {
        string schema = PostgreSqlTestStore.NewSchema();
        await using var opened = PostgreSqlTestStore.Open(await fixture.GetDatabaseAsync(nameof(PurgeTests)), schema);
        await opened.Store.MigrateAsync();
        await SeedAsync(opened.Store, Gone, 1);
        await SeedAsync(opened.Store, Kept, 2);

        var before = await CountRowsAsync(opened.DataSource, schema, Gone);
        foreach (string table in (string[])["tenants", "tenant_status", "client_state", "tenant_api_keys", "tenant_addresses", "inbox", "tenant_labels"])
        {
            Assert.True(before[table] > 0, $"the test seeded no row of {table}");
        }

        await opened.Store.PurgeAsync(Gone);

        Assert.All(await CountRowsAsync(opened.DataSource, schema, Gone), c => Assert.True(c.Value == 0, $"{c.Key} still has {c.Value} rows of {Gone}"));
        Assert.Equal(before, await CountRowsAsync(opened.DataSource, schema, Kept)); // seeded alike, untouched
        Assert.Null(await opened.Store.GetAsync(Gone, CancellationToken.None));
        Assert.Empty(await opened.Store.GetStore(Gone).ListKeysAsync("cloudapi"));
        Assert.DoesNotContain(Gone, await opened.Store.ListDesiredRunningAsync(CancellationToken.None));
        Assert.Empty(await new PostgreSqlTenantLabelStore(opened.Store).GetAsync(Gone));
        Assert.Equal("prod2", (await new PostgreSqlTenantLabelStore(opened.Store).GetAsync(Kept))["env"]);

        await opened.Store.PurgeAsync(Gone); // idempotent
    }
}
