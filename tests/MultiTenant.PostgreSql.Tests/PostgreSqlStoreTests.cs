using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>What the PostgreSQL store does beyond the shared contract.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class PostgreSqlStoreTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private PostgreSqlTestStore _store = null!;

    public async Task InitializeAsync()
    {
        string database = await fixture.GetDatabaseAsync(nameof(PostgreSqlStoreTests));
        var settings = new NpgsqlConnectionStringBuilder(database) { MaxPoolSize = 4 };
        _store = PostgreSqlTestStore.Open(settings.ConnectionString, PostgreSqlTestStore.NewSchema(), name: "store-tests-" + Guid.NewGuid().ToString("N")[..8]);
        await _store.Store.MigrateAsync();
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task An_error_text_with_a_nul_or_a_lone_surrogate_is_stored_rather_than_failing_the_whole_batch()
    {
        var odd = new TenantStatus(TenantId.Parse("odd"), TenantState.Error, Now, Now, "bad\0byte and \uD800 half", "host\0a");
        var fine = new TenantStatus(TenantId.Parse("fine"), TenantState.Connected, Now, Now, null, "host-a");

        await _store.Store.UpsertAsync([odd, fine], CancellationToken.None);

        var stored = await _store.Store.GetAsync(TenantId.Parse("odd"), CancellationToken.None);
        Assert.Equal("bad\uFFFDbyte and \uFFFD half", stored!.Error);
        Assert.Equal("host\uFFFDa", stored.Host);
        Assert.NotNull(await _store.Store.GetAsync(TenantId.Parse("fine"), CancellationToken.None));
    }

    [Fact]
    public async Task A_key_with_a_lone_surrogate_is_rejected_clearly()
    {
        var state = _store.Store.GetStore(TenantId.Parse("t1"));

        var ex = await Assert.ThrowsAsync<Storage.InvalidStateKeyException>(async () => await state.SetAsync("ns", "half\uD800", new byte[] { 1 }));

        Assert.Contains("surrogate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_pool_figures_follow_the_connections_in_use()
    {
        await using (var first = await _store.DataSource.OpenConnectionAsync())
        await using (var second = await _store.DataSource.OpenConnectionAsync())
        {
            var busy = _store.Store.PoolStatistics;
            Assert.Equal(new Storage.StorePoolStatistics(2, 0, 4), busy);
        }

        var idle = _store.Store.PoolStatistics;
        Assert.Equal(new Storage.StorePoolStatistics(0, 2, 4), idle);

        var report = await _store.Store.CheckAsync(CancellationToken.None);
        Assert.True(report.Healthy);
        Assert.Equal((0, 2, 4), (report.Acquired, report.Idle, report.Max));
    }

    [Fact]
    public async Task A_probe_that_cannot_get_a_connection_in_time_reports_unhealthy_without_throwing()
    {
        string database = await fixture.GetDatabaseAsync(nameof(PostgreSqlStoreTests));
        var settings = new NpgsqlConnectionStringBuilder(database) { MaxPoolSize = 1 };
        await using var dataSource = NpgsqlDataSource.Create(settings.ConnectionString);
        using var store = new PostgreSqlTenantStore(dataSource, new PostgreSqlStoreOptions { HealthCheckTimeout = TimeSpan.FromMilliseconds(300) });
        await using var held = await dataSource.OpenConnectionAsync();

        var report = await store.CheckAsync(CancellationToken.None);

        Assert.False(report.Healthy);
        Assert.Equal("The PostgreSQL server did not answer within 300 ms.", report.Problem);
        Assert.Equal(1, report.Max);
    }

    [Fact]
    public async Task A_data_source_without_pooling_has_no_pool_figures()
    {
        string database = await fixture.GetDatabaseAsync(nameof(PostgreSqlStoreTests));
        await using var dataSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ConnectionString);
        using var store = new PostgreSqlTenantStore(dataSource);

        Assert.Null(store.PoolStatistics);
        Assert.True((await store.CheckAsync(CancellationToken.None)).Healthy);
    }
}
