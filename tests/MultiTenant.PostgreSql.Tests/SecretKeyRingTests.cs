using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Secrets;
using MultiTenant.Storage;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>The key ring of secrets at rest lives in PostgreSQL: every host of a fleet shares it, and the database holds no secret.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class SecretKeyRingTests(PostgreSqlFixture fixture)
{
    private const string Purpose = "test.secret";
    private const string Secret = "EAAGpostgres-secret-token-0123456789abcdef";
    private static readonly TenantId Tenant = TenantId.Parse("tenant-secret");

    [Fact]
    public async Task Two_hosts_on_one_database_read_each_others_secrets_before_and_after_a_key_rotation()
    {
        string database = await fixture.CreateDatabaseAsync("keyring");
        string schema = PostgreSqlTestStore.NewSchema();
        using var a = BuildHost(database, schema, new() { ["WhatsAppTenants:HostId"] = "host-a" });
        using var b = BuildHost(database, schema, new() { ["WhatsAppTenants:HostId"] = "host-b" });
        await a.StartAsync();
        await b.StartAsync();
        try
        {
            await WriteAsync(a, "before", Secret);
            Assert.Equal(Secret, await ReadAsync(b, "before"));
            await WriteAsync(b, "from-b", Secret + "-b");
            Assert.Equal(Secret + "-b", await ReadAsync(a, "from-b"));

            a.Services.GetRequiredService<DataProtectionTenantSecretProtector>().RotateKey();
            await WriteAsync(a, "after", Secret);

            Assert.Equal(2, await CountKeysAsync(database, schema));
            Assert.Equal(Secret, await ReadAsync(b, "after"));
            Assert.Equal(Secret, await ReadAsync(b, "before"));
            Assert.Equal(Secret, await ReadAsync(a, "before"));
        }
        finally
        {
            await a.StopAsync();
            await b.StopAsync();
        }
    }

    [Fact]
    public async Task Neither_a_select_of_every_row_nor_a_pg_dump_holds_the_secret()
    {
        string database = await fixture.CreateDatabaseAsync("nosecret");
        string schema = PostgreSqlTestStore.NewSchema();
        using (var host = BuildHost(database, schema))
        {
            await host.StartAsync();
            await WriteAsync(host, "token", Secret);
            Assert.Equal(Secret, await ReadAsync(host, "token"));
            await host.StopAsync();
        }

        string rows = await SecretScan.DumpAllRowsAsync(database);
        string dump = await SecretScan.PgDumpAsync(database);

        Assert.Contains("secret_key_ring", rows, StringComparison.Ordinal);
        Assert.Contains("client_state", rows, StringComparison.Ordinal);
        Assert.Contains("aesGcmEncrypted", rows, StringComparison.Ordinal);
        Assert.DoesNotContain("masterKey", rows, StringComparison.Ordinal);
        Assert.Contains("COPY", dump, StringComparison.Ordinal);
        SecretScan.AssertAbsent(rows, Secret, "the rows");
        SecretScan.AssertAbsent(dump, Secret, "the pg_dump");
        SecretScan.AssertAbsent(dump, SecretScan.KeyEncryptionKey, "the pg_dump");
    }

    [Fact]
    public async Task After_a_key_encryption_key_rotation_a_host_with_the_previous_kek_reads_old_and_new_secrets()
    {
        string database = await fixture.CreateDatabaseAsync("kekrotation");
        string schema = PostgreSqlTestStore.NewSchema();
        string newKek = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        using (var old = BuildHost(database, schema))
        {
            await old.StartAsync();
            await WriteAsync(old, "old", Secret);
            await old.StopAsync();
        }

        using var rotated = BuildHost(database, schema, new()
        {
            ["WhatsAppTenants:Secrets:KeyEncryptionKey"] = newKek,
            ["WhatsAppTenants:Secrets:PreviousKeyEncryptionKeys:0"] = SecretScan.KeyEncryptionKey,
        });
        await rotated.StartAsync();
        Assert.Equal(Secret, await ReadAsync(rotated, "old"));
        rotated.Services.GetRequiredService<DataProtectionTenantSecretProtector>().RotateKey();
        await WriteAsync(rotated, "new", Secret);
        Assert.Equal(Secret, await ReadAsync(rotated, "new"));
        await rotated.StopAsync();

        using var newOnly = BuildHost(database, schema, new() { ["WhatsAppTenants:Secrets:KeyEncryptionKey"] = newKek });
        await newOnly.StartAsync();
        Assert.Equal(Secret, await ReadAsync(newOnly, "new"));
        await Assert.ThrowsAsync<TenantSecretUnreadableException>(() => ReadAsync(newOnly, "old"));
        await newOnly.StopAsync();
    }

    [Fact]
    public async Task Without_a_key_encryption_key_the_host_fails_to_start_saying_what_to_set()
    {
        string database = await fixture.GetDatabaseAsync(nameof(SecretKeyRingTests));
        using var host = BuildHost(database, PostgreSqlTestStore.NewSchema(), new() { ["WhatsAppTenants:Secrets:KeyEncryptionKey"] = "" });

        var ex = await Assert.ThrowsAsync<TenantSecretsConfigurationException>(() => host.StartAsync());

        Assert.Contains("WhatsAppTenants:Secrets:KeyEncryptionKey", ex.Message, StringComparison.Ordinal);
        Assert.Contains("WhatsAppTenants__Secrets__KeyEncryptionKey", ex.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(string database, string schema, Dictionary<string, string?>? configuration = null) =>
        TestHosts.Build(
            services => services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory()).UsePostgreSql(database, o => o.Schema = schema),
            configuration);

    private static async Task WriteAsync(IHost host, string key, string secret)
    {
        byte[] protectedBytes = host.Services.GetRequiredService<ITenantSecretProtector>().Protect(Tenant, Purpose, Encoding.UTF8.GetBytes(secret));
        await host.Services.GetRequiredService<ITenantStateStoreProvider>().GetStore(Tenant).SetAsync("secrets", key, protectedBytes);
    }

    private static async Task<string> ReadAsync(IHost host, string key)
    {
        byte[] stored = (await host.Services.GetRequiredService<ITenantStateStoreProvider>().GetStore(Tenant).GetAsync("secrets", key))!;
        return Encoding.UTF8.GetString(host.Services.GetRequiredService<ITenantSecretProtector>().Unprotect(Tenant, Purpose, stored));
    }

    private static async Task<long> CountKeysAsync(string database, string schema)
    {
        await using var dataSource = NpgsqlDataSource.Create(database);
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM \"{schema}\".secret_key_ring");
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
