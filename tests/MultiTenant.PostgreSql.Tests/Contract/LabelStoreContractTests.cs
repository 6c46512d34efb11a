using Microsoft.Extensions.Time.Testing;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>The contract every tenant label store passes (embedded and PostgreSQL).</summary>
public abstract class LabelStoreContractTests : IAsyncLifetime
{
    private static readonly TenantId T1 = TenantId.Parse("t1");
    private static readonly TenantId T2 = TenantId.Parse("t2");
    private static readonly TenantId T3 = TenantId.Parse("t3");

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    protected ITenantLabelStore Store { get; private set; } = null!;

    /// <summary>A new, empty store on <see cref="Time"/>.</summary>
    protected abstract Task<ITenantLabelStore> CreateAsync();

    /// <summary>A second store over the same storage (another host), or the same one for a backend that lives in one process.</summary>
    protected abstract Task<ITenantLabelStore> OpenAnotherAsync();

    /// <summary>Erases <paramref name="tenant"/> the way <c>DELETE /api/tenants/{id}?purge=true</c> does for this backend.</summary>
    protected abstract Task PurgeAsync(TenantId tenant);

    public virtual async Task InitializeAsync() => Store = await CreateAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Labels_set_on_one_host_are_read_on_another_and_a_new_set_replaces_the_old_one()
    {
        await Store.SetAsync(T1, new Dictionary<string, string> { ["team"] = "payments", ["env"] = "prod" });
        var other = await OpenAnotherAsync();

        var read = await other.GetAsync(T1);
        Assert.Equal(["env", "team"], read.Keys); // ordinal order of keys
        Assert.Equal("prod", read["env"]);
        Assert.Empty(await other.GetAsync(T2));

        await other.SetAsync(T1, new Dictionary<string, string> { ["env"] = "staging" });
        Assert.Equal(new Dictionary<string, string> { ["env"] = "staging" }, await Store.GetAsync(T1));
    }

    [Fact]
    public async Task An_empty_set_removes_the_labels()
    {
        await Store.SetAsync(T1, new Dictionary<string, string> { ["env"] = "prod" });
        await Store.SetAsync(T1, new Dictionary<string, string>());

        Assert.Empty(await (await OpenAnotherAsync()).GetAsync(T1));
        Assert.Empty(await Store.GetManyAsync([T1]));
    }

    [Fact]
    public async Task Get_many_returns_the_tenants_with_labels_only()
    {
        await Store.SetAsync(T1, new Dictionary<string, string> { ["env"] = "prod" });
        await Store.SetAsync(T3, new Dictionary<string, string> { ["env"] = "dev", ["owner"] = "ops" });

        var many = await (await OpenAnotherAsync()).GetManyAsync([T1, T2, T3]);

        Assert.Equal([T1, T3], many.Keys.Order());
        Assert.Equal("prod", many[T1]["env"]);
        Assert.Equal("ops", many[T3]["owner"]);
        Assert.Empty(await Store.GetManyAsync([]));
    }

    [Fact]
    public async Task Values_keep_quotes_backslashes_and_non_ASCII_text_and_the_limits_hold_exactly()
    {
        var labels = new Dictionary<string, string>
        {
            ["quote"] = "say \"hi\" \\ bye",
            ["unicode"] = "Zürich – 東京 – 🚀",
            ["long"] = new string('v', TenantLabels.MaxValueLength),
            [new string('k', TenantLabels.MaxKeyLength)] = string.Empty,
        };
        await Store.SetAsync(T1, labels);

        Assert.Equal(labels.OrderBy(l => l.Key, StringComparer.Ordinal), (await (await OpenAnotherAsync()).GetAsync(T1)).OrderBy(l => l.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Invalid_labels_are_refused_and_the_stored_ones_kept()
    {
        await Store.SetAsync(T1, new Dictionary<string, string> { ["env"] = "prod" });
        var tooMany = Enumerable.Range(0, TenantLabels.MaxCount + 1).ToDictionary(i => "k" + i, _ => "v");

        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.SetAsync(T1, tooMany));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.SetAsync(T1, new Dictionary<string, string> { ["-bad"] = "v" }));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.SetAsync(T1, new Dictionary<string, string> { ["k"] = "line\nbreak" }));

        Assert.Equal(new Dictionary<string, string> { ["env"] = "prod" }, await Store.GetAsync(T1));
    }

    [Fact]
    public async Task Purge_erases_the_tenants_labels_and_no_other_tenants()
    {
        await Store.SetAsync(T1, new Dictionary<string, string> { ["env"] = "prod" });
        await Store.SetAsync(T2, new Dictionary<string, string> { ["env"] = "dev" });

        await PurgeAsync(T1);

        var other = await OpenAnotherAsync();
        Assert.Empty(await other.GetAsync(T1));
        Assert.Equal(new Dictionary<string, string> { ["env"] = "dev" }, await other.GetAsync(T2));
    }
}

/// <summary>The embedded label store passes the contract.</summary>
public sealed class InMemoryLabelStoreContractTests : LabelStoreContractTests
{
    private InMemoryTenantLabelStore? _store;

    protected override Task<ITenantLabelStore> CreateAsync() => Task.FromResult<ITenantLabelStore>(_store = new InMemoryTenantLabelStore());

    protected override Task<ITenantLabelStore> OpenAnotherAsync() => Task.FromResult<ITenantLabelStore>(_store!);

    protected override Task PurgeAsync(TenantId tenant) => _store!.PurgeAsync(tenant).AsTask();
}

/// <summary>
/// The PostgreSQL label store passes the contract: each test in a fresh schema, the second host a store over its own data source, the
/// purge the tenant store's (one transaction over every table).
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlLabelStoreContractTests(PostgreSqlFixture fixture) : LabelStoreContractTests
{
    private readonly List<PostgreSqlTestStore> _opened = [];
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private string _connectionString = string.Empty;

    protected override async Task<ITenantLabelStore> CreateAsync()
    {
        _connectionString = await fixture.GetDatabaseAsync(nameof(PostgreSqlLabelStoreContractTests));
        var opened = Open();
        await opened.Store.MigrateAsync();
        return new PostgreSqlTenantLabelStore(opened.Store, Time);
    }

    protected override Task<ITenantLabelStore> OpenAnotherAsync() => Task.FromResult<ITenantLabelStore>(new PostgreSqlTenantLabelStore(Open().Store, Time));

    protected override Task PurgeAsync(TenantId tenant) => _opened[0].Store.PurgeAsync(tenant).AsTask();

    [Fact]
    public async Task Labels_are_one_jsonb_row_per_tenant_dated_by_the_time_provider()
    {
        await Store.SetAsync(TenantId.Parse("t1"), new Dictionary<string, string> { ["env"] = "prod" });

        await using var command = _opened[0].DataSource.CreateCommand(
            $"SELECT business_id, labels::text, updated_at FROM \"{_schema}\".tenant_labels");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("t1", reader.GetString(0));
        Assert.Equal("""{"env": "prod"}""", reader.GetString(1));
        Assert.Equal(Time.GetUtcNow(), reader.GetFieldValue<DateTimeOffset>(2));
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task The_table_refuses_a_value_that_is_not_a_JSON_object()
    {
        await using var command = _opened[0].DataSource.CreateCommand(
            $"INSERT INTO \"{_schema}\".tenant_labels (business_id, labels, updated_at) VALUES ('t1', '[\"a\"]', now())");

        var ex = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.Equal(PostgresErrorCodes.CheckViolation, ex.SqlState);
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
