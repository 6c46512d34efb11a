using System.Text;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using Npgsql;
using Xunit;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>Fleet mode's store paths: the fenced status batch and the notification channel of long schema names (issue 11).</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetStoreTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private string _database = null!;
    private FleetHarness? _fleet;

    public async Task InitializeAsync() => _database = await fixture.GetDatabaseAsync(nameof(FleetStoreTests));

    public async Task DisposeAsync()
    {
        if (_fleet is not null)
        {
            await _fleet.DisposeAsync();
            _fleet.History.AssertNoOverlap();
        }
    }

    [Fact]
    public async Task A_nul_in_an_error_text_is_stored_in_fleet_mode_and_the_rest_of_the_batch_lands()
    {
        _fleet = new FleetHarness(_database, PostgreSqlTestStore.NewSchema());
        var a = await _fleet.AddHostAsync("a");
        var tenants = await _fleet.StartTenantsAsync(2);
        await _fleet.WaitUntilAllRunOnceAsync(tenants);
        var statuses = a.Host.Services.GetRequiredService<ITenantStatusStore>();
        Assert.IsNotType<PostgreSqlTenantStore>(statuses); // the fenced store of fleet mode
        var now = DateTimeOffset.UtcNow;
        await statuses.UpsertAsync(
            [
                new TenantStatus(tenants[0], TenantState.Disconnected, now, now, "bad\0text \ud800", "a"),
                new TenantStatus(tenants[1], TenantState.Disconnected, now, now, "fine", "a"),
            ],
            CancellationToken.None);

        var store = a.Host.Services.GetRequiredService<PostgreSqlTenantStore>();
        Assert.Equal("bad\uFFFDtext \uFFFD", (await store.GetAsync(tenants[0], CancellationToken.None))!.Error);
        Assert.Equal("fine", (await store.GetAsync(tenants[1], CancellationToken.None))!.Error);
    }

    [Fact]
    public async Task A_50_character_schema_gets_a_channel_within_63_bytes_that_carries_the_fleets_notifications()
    {
        string schema = "s" + Guid.NewGuid().ToString("N") + new string('x', 17);
        Assert.Equal(50, schema.Length);
        _fleet = new FleetHarness(_database, schema);
        var a = await _fleet.AddHostAsync("a");
        string channel = a.Member.Sql.Channel;
        Assert.True(Encoding.UTF8.GetByteCount(channel) <= 63, channel);
        Assert.NotEqual(channel, FleetStatements.ChannelName(schema[..^1] + "y")); // two long schemas never share a channel

        await using var dataSource = NpgsqlDataSource.Create(_database);
        await using var listener = await dataSource.OpenConnectionAsync();
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        listener.Notification += (_, e) => received.TrySetResult(e.Payload);
        await using (var listen = new NpgsqlCommand($"LISTEN \"{channel}\"", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        var waiting = listener.WaitAsync();
        var tenants = await _fleet.StartTenantsAsync(1);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("start", await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await _fleet.WaitUntilAllRunOnceAsync(tenants);
    }

    [Fact]
    public async Task Tenants_of_a_host_that_stopped_heartbeating_are_listed_disconnected_owner_host_lost_until_a_host_runs_them_again()
    {
        _fleet = new FleetHarness(_database, PostgreSqlTestStore.NewSchema());
        // a's leases last 30 s, its heartbeats 0.3 s (dead after 0.9 s): the tenants must be listed lost within the heartbeat timeout,
        // long before the leases expire.
        var a = await _fleet.AddHostAsync("a", configure: o =>
        {
            o.LeaseTtl = TimeSpan.FromSeconds(30);
            o.RenewInterval = TimeSpan.FromSeconds(5);
            o.SafetyMargin = TimeSpan.FromSeconds(5);
        });
        var b = await _fleet.AddHostAsync("b", configure: o => o.Capacity = 0); // a viewer: it never claims a tenant
        var tenants = await _fleet.StartTenantsAsync(10);
        await _fleet.WaitUntilAllRunOnceAsync(tenants, ["a"]);
        await Eventually.UntilAsync(
            async () => await b.Coordinator.ListStatusesAsync(),
            l => l.Count == 10 && l.All(s => s.State == TenantState.Connected),
            "b lists the 10 tenants connected");

        // a freezes as a whole (no heartbeat, no renewal; its clients go on): b lists them lost once a's heartbeat is older than the
        // dead-after time (0.9 s), with its leases still valid for at least 25 s.
        a.Member.CoordinationPaused = true;
        a.Member.WatchdogPaused = true;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var lost = await Eventually.UntilAsync(
            async () => await b.Coordinator.ListStatusesAsync(),
            l => l.Count == 10 && l.All(s => s.State == TenantState.Disconnected),
            "b lists the 10 tenants disconnected", TimeSpan.FromSeconds(10));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"listed lost after {watch.Elapsed}, not within the heartbeat timeout");
        Assert.Equal(10, a.Member.OwnedCount); // by the heartbeats alone: a still holds every lease
        Assert.All(lost, s => Assert.StartsWith("owner host lost", s.Error, StringComparison.Ordinal));
        Assert.Equal(TenantState.Disconnected, (await b.Coordinator.GetStatusAsync(tenants[0]))!.State);

        // a thaws: it heartbeats again (and renews), and the tenants are listed connected again.
        a.Member.WatchdogPaused = false;
        a.Member.CoordinationPaused = false;
        await Eventually.UntilAsync(
            async () => await b.Coordinator.ListStatusesAsync(),
            l => l.Count == 10 && l.All(s => s.State == TenantState.Connected && s.Error is null),
            "b lists the 10 tenants connected again");
    }
}
