using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Idempotency;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Contract;

/// <summary>The contract every idempotency store passes (embedded and PostgreSQL).</summary>
public abstract class IdempotencyStoreContractTests : IAsyncLifetime
{
    protected static readonly TenantId T1 = TenantId.Parse("t1");
    private static readonly TenantId T2 = TenantId.Parse("t2");
    private static readonly byte[] BodyA = Hash("""{"to":"15551234567","text":"a"}""");
    private static readonly byte[] BodyB = Hash("""{"to":"15551234567","text":"b"}""");

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));

    protected ITenantIdempotencyStore Store { get; private set; } = null!;

    /// <summary>A new, empty store on <see cref="Time"/>.</summary>
    protected abstract Task<ITenantIdempotencyStore> CreateAsync();

    /// <summary>A second store over the same storage (another host), or the same one for a backend that lives in one process.</summary>
    protected abstract Task<ITenantIdempotencyStore> OpenAnotherAsync();

    public virtual async Task InitializeAsync() => Store = await CreateAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;

    protected static byte[] Hash(string body) => SHA256.HashData(Encoding.UTF8.GetBytes(body));

    [Fact]
    public async Task A_claimed_key_is_in_progress_then_completed_with_its_message_id_on_every_host_and_a_different_body_is_a_mismatch()
    {
        Assert.Equal(new IdempotencyResult(IdempotencyState.Started, null), await Store.BeginAsync(T1, "k-1", BodyA));
        var other = await OpenAnotherAsync();
        Assert.Equal(IdempotencyState.InProgress, (await other.BeginAsync(T1, "k-1", BodyA)).State);
        Assert.Equal(IdempotencyState.Mismatch, (await other.BeginAsync(T1, "k-1", BodyB)).State);

        await Store.CompleteAsync(T1, "k-1", "msg-1");

        Assert.Equal(new IdempotencyResult(IdempotencyState.Completed, "msg-1"), await other.BeginAsync(T1, "k-1", BodyA));
        Assert.Equal(IdempotencyState.Mismatch, (await other.BeginAsync(T1, "k-1", BodyB)).State);

        // Keys are per tenant.
        Assert.Equal(IdempotencyState.Started, (await other.BeginAsync(T2, "k-1", BodyB)).State);
    }

    [Fact]
    public async Task A_released_claim_lets_the_retry_send_and_a_completed_key_is_not_released()
    {
        await Store.BeginAsync(T1, "k-2", BodyA);
        await Store.ReleaseAsync(T1, "k-2");
        var other = await OpenAnotherAsync();
        Assert.Equal(IdempotencyState.Started, (await other.BeginAsync(T1, "k-2", BodyB)).State);

        await other.CompleteAsync(T1, "k-2", "msg-2");
        await Store.ReleaseAsync(T1, "k-2");
        Assert.Equal(new IdempotencyResult(IdempotencyState.Completed, "msg-2"), await Store.BeginAsync(T1, "k-2", BodyB));
    }

    [Fact]
    public async Task A_key_is_free_again_24_hours_after_its_first_use()
    {
        await Store.BeginAsync(T1, "k-3", BodyA);
        await Store.CompleteAsync(T1, "k-3", "msg-3");

        Time.Advance(TenantIdempotency.Retention - TimeSpan.FromSeconds(1));
        Assert.Equal(IdempotencyState.Completed, (await Store.BeginAsync(T1, "k-3", BodyA)).State);

        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(IdempotencyState.Started, (await Store.BeginAsync(T1, "k-3", BodyB)).State);
    }

    [Fact]
    public async Task An_unfinished_claim_is_taken_over_after_the_in_progress_timeout_by_the_same_request_only()
    {
        await Store.BeginAsync(T1, "k-4", BodyA);
        Time.Advance(TenantIdempotency.InProgressTimeout - TimeSpan.FromSeconds(1));
        Assert.Equal(IdempotencyState.InProgress, (await Store.BeginAsync(T1, "k-4", BodyA)).State);

        Time.Advance(TimeSpan.FromSeconds(1));
        var other = await OpenAnotherAsync();
        Assert.Equal(IdempotencyState.Mismatch, (await other.BeginAsync(T1, "k-4", BodyB)).State);
        Assert.Equal(IdempotencyState.Started, (await other.BeginAsync(T1, "k-4", BodyA)).State);
        Assert.Equal(IdempotencyState.InProgress, (await Store.BeginAsync(T1, "k-4", BodyA)).State);
    }

    [Fact]
    public async Task Of_concurrent_duplicates_on_two_hosts_exactly_one_is_started()
    {
        var other = await OpenAnotherAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
            await (i % 2 == 0 ? Store : other).BeginAsync(T1, "k-5", BodyA))));

        Assert.Single(results, r => r.State == IdempotencyState.Started);
        Assert.Equal(19, results.Count(r => r.State == IdempotencyState.InProgress));
    }

    [Fact]
    public async Task Bad_arguments_are_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.BeginAsync(default, "k", BodyA));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.BeginAsync(T1, "", BodyA));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.BeginAsync(T1, new string('k', 256), BodyA));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.BeginAsync(T1, "k\n", BodyA));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.BeginAsync(T1, "k", new byte[31]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.CompleteAsync(T1, "k", ""));
    }

    [Theory]
    [InlineData("a", true)]
    [InlineData("order-42 retry", true)]
    [InlineData("~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./", true)]
    [InlineData("", false)]
    [InlineData(" leading", false)]
    [InlineData("trailing ", false)]
    [InlineData("tab\there", false)]
    [InlineData("ünïcode", false)]
    public void Keys_are_1_to_255_printable_ASCII_characters(string key, bool valid) =>
        Assert.Equal(valid, TenantIdempotency.ValidateKey(key) is null);
}

/// <summary>The embedded idempotency store passes the contract, and stays within its bound.</summary>
public sealed class InMemoryIdempotencyStoreContractTests : IdempotencyStoreContractTests
{
    private InMemoryTenantIdempotencyStore? _store;

    protected override Task<ITenantIdempotencyStore> CreateAsync() => Task.FromResult<ITenantIdempotencyStore>(_store = new InMemoryTenantIdempotencyStore(Time));

    protected override Task<ITenantIdempotencyStore> OpenAnotherAsync() => Task.FromResult<ITenantIdempotencyStore>(_store!);

    [Fact]
    public async Task When_full_the_oldest_key_is_forgotten_and_expired_keys_are_pruned()
    {
        var store = new InMemoryTenantIdempotencyStore(Time, maxEntries: 3);
        for (int i = 0; i < 4; i++)
        {
            await store.BeginAsync(T1, "k" + i, Hash("b" + i));
            Time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(3, store.Count);
        Assert.Equal(IdempotencyState.Started, (await store.BeginAsync(T1, "k0", Hash("other"))).State);
        Assert.Equal(IdempotencyState.Mismatch, (await store.BeginAsync(T1, "k3", Hash("other"))).State);

        // Released and claimed again many times: the claim order stays bounded too.
        for (int i = 0; i < 100; i++)
        {
            await store.ReleaseAsync(T1, "k3");
            await store.BeginAsync(T1, "k3", Hash("b3"));
        }

        Assert.Equal(3, store.Count);
        Time.Advance(TenantIdempotency.Retention);
        await store.BeginAsync(T2Id, "fresh", Hash("x"));
        Assert.Equal(1, store.Count);
    }

    private static TenantId T2Id => TenantId.Parse("t2");
}

/// <summary>The PostgreSQL idempotency store passes the contract: each test in a fresh schema.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlIdempotencyStoreContractTests(PostgreSqlFixture fixture) : IdempotencyStoreContractTests
{
    private readonly List<PostgreSqlTestStore> _opened = [];
    private readonly string _schema = PostgreSqlTestStore.NewSchema();
    private string _connectionString = string.Empty;

    protected override async Task<ITenantIdempotencyStore> CreateAsync()
    {
        _connectionString = await fixture.GetDatabaseAsync(nameof(PostgreSqlIdempotencyStoreContractTests));
        var opened = Open();
        await opened.Store.MigrateAsync();
        return new PostgreSqlTenantIdempotencyStore(opened.Store, Time);
    }

    protected override Task<ITenantIdempotencyStore> OpenAnotherAsync() =>
        Task.FromResult<ITenantIdempotencyStore>(new PostgreSqlTenantIdempotencyStore(Open().Store, Time));

    public override async Task DisposeAsync()
    {
        foreach (var opened in _opened)
        {
            await opened.DisposeAsync();
        }
    }

    [Fact]
    public async Task Rows_older_than_24_hours_are_pruned()
    {
        await Store.BeginAsync(T1, "old", Hash("a"));
        Time.Advance(TenantIdempotency.Retention + TimeSpan.FromMinutes(1));

        // A new store prunes on its first claim.
        var other = await OpenAnotherAsync();
        await other.BeginAsync(T1, "new", Hash("b"));

        await using var command = _opened[0].DataSource.CreateCommand($"SELECT key FROM \"{_schema}\".tenant_idempotency_keys");
        await using var reader = await command.ExecuteReaderAsync();
        var keys = new List<string>();
        while (await reader.ReadAsync())
        {
            keys.Add(reader.GetString(0));
        }

        Assert.Equal(["new"], keys);
    }

    private PostgreSqlTestStore Open()
    {
        var opened = PostgreSqlTestStore.Open(_connectionString, _schema);
        _opened.Add(opened);
        return opened;
    }
}
