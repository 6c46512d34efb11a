using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>The embedded store passes the contract.</summary>
public sealed class InMemoryStoreContractTests : TenantStoreContractTests
{
    private InMemoryTenantStore? _store;

    protected override Task<StoreUnderTest> CreateStoreAsync()
    {
        _store = new InMemoryTenantStore();
        return Task.FromResult(StoreUnderTest.From(_store));
    }

    // The embedded store lives as long as the process: a coordinator restarted in it gets the same instance.
    protected override Task<StoreUnderTest> ReopenStoreAsync() => Task.FromResult(StoreUnderTest.From(_store!));
}

/// <summary>The PostgreSQL store passes the contract: each test in a fresh schema of this class's database.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlStoreContractTests(PostgreSqlFixture fixture) : TenantStoreContractTests
{
    private readonly List<PostgreSqlTestStore> _opened = [];
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private string _connectionString = string.Empty;

    protected override async Task<StoreUnderTest> CreateStoreAsync()
    {
        _connectionString = await fixture.GetDatabaseAsync(nameof(PostgreSqlStoreContractTests));
        var opened = Open();
        await opened.Store.MigrateAsync();
        return StoreUnderTest.From(opened.Store);
    }

    protected override async Task<StoreUnderTest> ReopenStoreAsync()
    {
        var opened = Open();
        Assert.Empty(await opened.Store.MigrateAsync());
        return StoreUnderTest.From(opened.Store);
    }

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

/// <summary>
/// The PostgreSQL store passes the contract with row-level security on, connected as an ordinary application role (not the owner,
/// not a superuser), so every state-store statement is checked by the policy.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlRowLevelSecurityStoreContractTests(PostgreSqlFixture fixture) : TenantStoreContractTests
{
    private readonly List<PostgreSqlTestStore> _opened = [];
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private RlsRoles? _roles;

    protected override async Task<StoreUnderTest> CreateStoreAsync()
    {
        string database = await fixture.GetDatabaseAsync(nameof(PostgreSqlRowLevelSecurityStoreContractTests));
        _roles = await RlsRoles.CreateAsync(fixture, database);
        await _roles.PrepareSchemaAsync(_schema);
        return StoreUnderTest.From(Open().Store);
    }

    protected override Task<StoreUnderTest> ReopenStoreAsync() => Task.FromResult(StoreUnderTest.From(Open().Store));

    public override async Task DisposeAsync()
    {
        foreach (var opened in _opened)
        {
            await opened.DisposeAsync();
        }
    }

    private PostgreSqlTestStore Open()
    {
        var opened = PostgreSqlTestStore.Open(_roles!.AppConnectionString, _schema, rowLevelSecurity: true);
        _opened.Add(opened);
        return opened;
    }
}
