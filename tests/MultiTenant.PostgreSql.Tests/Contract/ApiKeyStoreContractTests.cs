using Microsoft.Extensions.Time.Testing;
using MultiTenant.Security;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>The contract every API key store passes (embedded and PostgreSQL).</summary>
public abstract class ApiKeyStoreContractTests : IAsyncLifetime
{
    private static readonly TenantId T1 = TenantId.Parse("t1");
    private static readonly TenantId T2 = TenantId.Parse("t2");

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    protected ITenantApiKeyStore Store { get; private set; } = null!;

    /// <summary>A new, empty store on <see cref="Time"/>.</summary>
    protected abstract Task<ITenantApiKeyStore> CreateAsync();

    /// <summary>A second store over the same storage (another host), or the same one for a backend that lives in one process.</summary>
    protected abstract Task<ITenantApiKeyStore> OpenAnotherAsync();

    public virtual async Task InitializeAsync() => Store = await CreateAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Created_key_is_found_by_its_hash_on_another_host_and_listed_for_its_tenant_only()
    {
        string key = TenantApiKeys.Generate();
        var created = await Store.CreateAsync(T1, TenantApiKeys.Hash(key));
        Assert.Equal(T1, created.Tenant);
        Assert.Equal(Time.GetUtcNow(), created.CreatedAt);

        var other = await OpenAnotherAsync();
        Assert.Equal(created, await other.FindByHashAsync(TenantApiKeys.Hash(key)));
        Assert.Null(await other.FindByHashAsync(TenantApiKeys.Hash(key + "x")));
        Assert.Equal([created], await other.ListAsync(T1));
        Assert.Empty(await other.ListAsync(T2));
    }

    [Fact]
    public async Task Revoked_key_is_refused_at_once_on_every_host_and_only_by_its_own_tenant()
    {
        byte[] hash = TenantApiKeys.Hash(TenantApiKeys.Generate());
        var created = await Store.CreateAsync(T1, hash);
        var other = await OpenAnotherAsync();
        Assert.NotNull(await other.FindByHashAsync(hash));

        Assert.False(await Store.RevokeAsync(T2, created.Id));
        Assert.False(await Store.RevokeAsync(T1, Guid.NewGuid()));
        Assert.NotNull(await other.FindByHashAsync(hash));

        Assert.True(await Store.RevokeAsync(T1, created.Id));
        Assert.Null(await other.FindByHashAsync(hash));
        Assert.Empty(await other.ListAsync(T1));
        Assert.False(await other.RevokeAsync(T1, created.Id));
    }

    [Fact]
    public async Task List_is_oldest_first_without_revoked_keys()
    {
        var a = await Store.CreateAsync(T1, TenantApiKeys.Hash(TenantApiKeys.Generate()));
        Time.Advance(TimeSpan.FromSeconds(1));
        var b = await Store.CreateAsync(T1, TenantApiKeys.Hash(TenantApiKeys.Generate()));
        Time.Advance(TimeSpan.FromSeconds(1));
        var c = await Store.CreateAsync(T1, TenantApiKeys.Hash(TenantApiKeys.Generate()));
        await Store.RevokeAsync(T1, b.Id);
        Assert.Equal([a, c], await Store.ListAsync(T1));
    }

    [Fact]
    public async Task Bad_arguments_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.CreateAsync(default, new byte[32]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.CreateAsync(T1, new byte[31]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.FindByHashAsync(new byte[33]));
    }

    [Fact]
    public void Generated_keys_carry_the_prefix_and_256_bits()
    {
        string key = TenantApiKeys.Generate();
        Assert.StartsWith(TenantApiKeys.Prefix, key, StringComparison.Ordinal);
        Assert.Equal(TenantApiKeys.Prefix.Length + 43, key.Length);
        Assert.NotEqual(key, TenantApiKeys.Generate());
        Assert.Equal(32, TenantApiKeys.Hash(key).Length);
        Assert.Throws<ArgumentException>(() => TenantApiKeys.Hash(new string('a', TenantApiKeys.MaxKeyLength + 1)));
    }
}

/// <summary>The embedded API key store passes the contract.</summary>
public sealed class InMemoryApiKeyStoreContractTests : ApiKeyStoreContractTests
{
    private InMemoryTenantApiKeyStore? _store;

    protected override Task<ITenantApiKeyStore> CreateAsync() => Task.FromResult<ITenantApiKeyStore>(_store = new InMemoryTenantApiKeyStore(Time));

    protected override Task<ITenantApiKeyStore> OpenAnotherAsync() => Task.FromResult<ITenantApiKeyStore>(_store!);
}

/// <summary>The PostgreSQL API key store passes the contract: each test in a fresh schema.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlApiKeyStoreContractTests(PostgreSqlFixture fixture) : ApiKeyStoreContractTests
{
    private readonly List<PostgreSqlTestStore> _opened = [];
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private string _connectionString = string.Empty;

    protected override async Task<ITenantApiKeyStore> CreateAsync()
    {
        _connectionString = await fixture.GetDatabaseAsync(nameof(PostgreSqlApiKeyStoreContractTests));
        var opened = Open();
        await opened.Store.MigrateAsync();
        return new PostgreSqlTenantApiKeyStore(opened.Store, Time);
    }

    protected override Task<ITenantApiKeyStore> OpenAnotherAsync() => Task.FromResult<ITenantApiKeyStore>(new PostgreSqlTenantApiKeyStore(Open().Store, Time));

    public override async Task DisposeAsync()
    {
        foreach (var opened in _opened)
        {
            await opened.DisposeAsync();
        }
    }

    private PostgreSqlTestStore Open()
    {
        var opened = PostgreSqlTestStore.Open(_connectionString, _schema);
        _opened.Add(opened);
        return opened;
    }
}
