using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>The lease keeper alone, on a real PostgreSQL schema and without a coordinator: acquire, renew, lose, watchdog, release.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class LeaseKeeperTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private static readonly TenantId[] Tenants = [TenantId.Parse("k1"), TenantId.Parse("k2"), TenantId.Parse("k3")];
    private PostgreSqlTestStore _store = null!;
    private string _schema = null!;

    public async Task InitializeAsync()
    {
        _schema = PostgreSqlTestStore.NewSchema();
        _store = PostgreSqlTestStore.Open(await fixture.GetDatabaseAsync(nameof(LeaseKeeperTests)), _schema);
        await _store.Store.MigrateAsync();
        foreach (var tenant in Tenants)
        {
            await _store.Store.SetDesiredStateAsync(tenant, running: true, CancellationToken.None);
        }
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Acquires_free_leases_only_renews_them_in_one_statement_and_loses_exactly_the_one_taken_over()
    {
        var first = new Keeper(this);
        var second = new Keeper(this);

        Assert.Equal(3, await first.Leases.AcquireAsync(Tenants, "first", new Dictionary<TenantId, long>(), first.Activate, CancellationToken.None));
        Assert.Equal(0, await second.Leases.AcquireAsync(Tenants, "second", new Dictionary<TenantId, long>(), second.Activate, CancellationToken.None));
        Assert.Equal(Tenants.Order(), first.Activated.Keys.Order());
        Assert.All(Tenants, t => Assert.Equal(first.Activated[t], first.Leases.GetEpoch(t)));
        Assert.Empty(second.Activated);

        Assert.True(await first.Leases.RenewAsync(CancellationToken.None));
        Assert.Equal(1, first.Leases.Renewals);
        Assert.Empty(first.Lost);

        // Another instance takes k2 over behind the keeper's back: the next renewal loses k2 alone.
        await ExecuteAsync($"UPDATE \"{_schema}\".leases SET instance_id = gen_random_uuid(), epoch = epoch + 1 WHERE business_id = 'k2'");
        Assert.True(await first.Leases.RenewAsync(CancellationToken.None));
        Assert.Equal(["k2"], first.Lost.Select(t => t.Value));
        Assert.Null(first.Leases.GetEpoch(Tenants[1]));
        Assert.Equal(2, first.Leases.Count);
        Assert.False(first.Leases.Holds(Tenants[1]));
    }

    [Fact]
    public async Task The_watchdog_gives_up_the_leases_at_their_local_deadline_and_not_before()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var keeper = new Keeper(this, time);
        Assert.Equal(3, await keeper.Leases.AcquireAsync(Tenants, "w", new Dictionary<TenantId, long>(), keeper.Activate, CancellationToken.None));
        using var stop = new CancellationTokenSource();
        var watchdog = keeper.Leases.RunWatchdogAsync(stop.Token);

        // TTL 2 s − margin 0.7 s: the deadline is 1.3 s after the acquisition began. The watchdog looks every 175 ms.
        for (int i = 0; i < 6; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(175));
        }

        await Task.Delay(50);
        Assert.Empty(keeper.Lost);
        Assert.Equal(3, keeper.Leases.Count);

        time.Advance(TimeSpan.FromMilliseconds(300));
        await Eventually.UntilAsync(() => Task.FromResult(keeper.Lost.Count), n => n == 3, "the watchdog gives up every lease");
        Assert.Equal(0, keeper.Leases.Count);

        await stop.CancelAsync();
        await watchdog;
    }

    [Fact]
    public async Task Released_leases_are_free_for_another_instance_under_a_higher_epoch()
    {
        var first = new Keeper(this);
        var second = new Keeper(this);
        await first.Leases.AcquireAsync(Tenants, "first", new Dictionary<TenantId, long>(), first.Activate, CancellationToken.None);
        var epochs = Tenants.ToDictionary(t => t, t => first.Leases.GetEpoch(t)!.Value);

        Assert.Equal(2, await first.Leases.ReleaseAsync(Tenants[..2], [null, null], CancellationToken.None));
        Assert.Equal(2, await second.Leases.AcquireAsync(Tenants, "second", new Dictionary<TenantId, long>(), second.Activate, CancellationToken.None));
        Assert.All(Tenants[..2], t => Assert.True(second.Activated[t] > epochs[t]));

        Assert.Equal(1, await first.Leases.ReleaseAllAsync(_ => null, CancellationToken.None));
        Assert.Equal(0, first.Leases.Count);
        Assert.Equal(1, await second.Leases.AcquireAsync(Tenants, "second", new Dictionary<TenantId, long>(), second.Activate, CancellationToken.None));
        Assert.Empty(first.Lost);
    }

    [Fact]
    public async Task After_a_renewal_fails_on_a_connection_the_server_closed_the_next_attempt_gets_a_fresh_one()
    {
        // A coordination data source of the keeper's own, with three idle pooled connections; then the server closes all three (as a
        // restart does). Npgsql notices a closed idle connection only when it uses it.
        string application = "keeper-" + Guid.NewGuid().ToString("N")[..8];
        var builder = new NpgsqlConnectionStringBuilder(_store.DataSource.ConnectionString) { ApplicationName = application, MaxPoolSize = 5 };
        await using var coordination = NpgsqlDataSource.Create(builder.ConnectionString);
        var keeper = new Keeper(this, coordination: coordination);
        Assert.Equal(3, await keeper.Leases.AcquireAsync(Tenants, "k", new Dictionary<TenantId, long>(), keeper.Activate, CancellationToken.None));
        var held = new List<NpgsqlConnection>();
        for (int i = 0; i < 3; i++)
        {
            held.Add(await coordination.OpenConnectionAsync());
        }

        foreach (var connection in held)
        {
            await connection.DisposeAsync();
        }

        await using (var kill = _store.DataSource.CreateCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1"))
        {
            kill.Parameters.AddWithValue(application);
            Assert.Equal(3L, await kill.ExecuteScalarAsync());
        }

        // The first attempt meets a closed connection and fails; the next one must not meet the other two.
        Assert.False(await keeper.Leases.RenewAsync(CancellationToken.None));
        Assert.True(await keeper.Leases.RenewAsync(CancellationToken.None));
        Assert.Equal(3, keeper.Leases.Count);
        Assert.Empty(keeper.Lost);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var command = _store.DataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A keeper of its own instance id, recording activations and losses.</summary>
    private sealed class Keeper
    {
        public Keeper(LeaseKeeperTests test, TimeProvider? time = null, NpgsqlDataSource? coordination = null)
        {
            var data = coordination ?? test._store.DataSource;
            var options = new FleetOptions();
            FleetHarness.FastTimings(options);
            var sql = new FleetStatements(test._schema);
            var channel = new FleetChannel(data, sql, TimeProvider.System, NullLogger.Instance, _ => { }, () => { });
            Leases = new LeaseKeeper(
                data, sql, channel, options, time ?? TimeProvider.System, NullLogger.Instance, Guid.NewGuid(), 5,
                () => false, () => false, lost => { foreach (var t in lost) { Lost.Enqueue(t); } });
        }

        public LeaseKeeper Leases { get; }

        public ConcurrentDictionary<TenantId, long> Activated { get; } = new();

        public ConcurrentQueue<TenantId> Lost { get; } = new();

        public void Activate(TenantId tenant, long epoch) => Activated[tenant] = epoch;
    }
}
