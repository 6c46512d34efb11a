using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Text;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.CloudApi.Tests;

/// <summary>With the PostgreSQL store, the database never holds a Cloud API access token: not in any row, not in a pg_dump.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlSecretsTests(PostgreSqlFixture postgres) : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-never-in-the-database-0123456789";

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    [Fact]
    public async Task No_row_and_no_pg_dump_of_the_database_holds_the_access_token()
    {
        string database = await postgres.CreateDatabaseAsync("cloudsecrets");
        _graph.AddNumber(Phone, Token);
        var tenant = TenantId.Parse("tenant-a");
        await using (var host = await CloudApiTestHost.StartAsync(
            _graph, tenants: t => t.UsePostgreSql(database).ConfigureSecrets(o => o.KeyEncryptionKey = SecretScan.KeyEncryptionKey)))
        {
            using var put = await host.Http.PutAsync(
                "/api/tenants/tenant-a/cloud-api/credentials",
                new StringContent($$"""{"phone_number_id":"{{Phone}}","access_token":"{{Token}}"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);
            await host.StartConnectedAsync(tenant);
            Assert.Equal("Bearer " + Token, _graph.Probes[^1].Authorization);
        }

        string rows = await SecretScan.DumpAllRowsAsync(database);
        string dump = await SecretScan.PgDumpAsync(database);

        // The credentials row is there (bytea prints as hex; its phone number id is not a secret).
        Assert.Contains(Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Phone)), rows, StringComparison.Ordinal);
        Assert.Contains("secret_key_ring", dump, StringComparison.Ordinal);
        SecretScan.AssertAbsent(rows, Token, "the database rows");
        SecretScan.AssertAbsent(dump, Token, "the pg_dump");
    }
}
