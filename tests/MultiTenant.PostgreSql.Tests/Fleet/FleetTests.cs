using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>
/// In-process fleets: several coordinators with distinct host ids on one database schema, short lease timings (TTL 2 s), and a history
/// checker that fails on any overlap of two ownership intervals of a tenant.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetTests(PostgreSqlFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private FleetHarness _fleet = null!;
    private string _database = null!;
    private string? _frozenHost;

    public async Task InitializeAsync()
    {
        _database = await fixture.GetDatabaseAsync(nameof(FleetTests));
        _fleet = new FleetHarness(_database, PostgreSqlTestStore.NewSchema());
    }

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        _fleet.History.AssertNoOverlap(_frozenHost);
    }

    [Fact]
    public async Task Tenants_spread_over_the_hosts_and_each_runs_exactly_once()
    {
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b");
        var c = await _fleet.AddHostAsync("c");
        var tenants = await _fleet.StartTenantsAsync(300);

        var running = await _fleet.WaitUntilAllRunOnceAsync(tenants);
        foreach (var host in new[] { a, b, c })
        {
            int count = running.Count(r => r.Value[0] == host.Id);
            output.WriteLine($"{host.Id}: {count}");
            Assert.InRange(count, 60, 140);
            Assert.Equal(count, host.Member.OwnedCount);
        }

        // The fleet view: any host lists every tenant with its owner.
        var statuses = await Eventually.UntilAsync(
            async () => await a.Coordinator.ListStatusesAsync(),
            list => list.Count == 300 && list.All(s => s.State == TenantState.Connected),
            "the fleet view shows 300 connected tenants");
        Assert.All(statuses, s => Assert.Equal(running[s.BusinessId][0], s.Host));
        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task A_start_anywhere_of_a_running_tenant_is_refused_with_its_owner()
    {
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b");
        var tenant = TenantId.Parse(FleetHarness.PickTenantPlacedOn("b", ["a", "b"]));
        await a.Coordinator.StartAsync(tenant);
        await _fleet.WaitUntilAllRunOnceAsync([tenant], ["b"]);

        var refused = await Assert.ThrowsAsync<TenantAlreadyRunningException>(async () => await a.Coordinator.StartAsync(tenant));
        Assert.Equal("b", refused.Host);
        await Assert.ThrowsAsync<TenantAlreadyRunningException>(async () => await b.Coordinator.StartAsync(tenant));
        await Assert.ThrowsAsync<TenantNotFoundException>(async () => await a.Coordinator.StopAsync(TenantId.Parse("never-started")));
    }

    [Fact]
    public async Task A_start_or_stop_on_one_host_takes_effect_on_the_owner_within_a_second()
    {
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b");
        var tenant = TenantId.Parse(FleetHarness.PickTenantPlacedOn("b", ["a", "b"]));

        var watch = Stopwatch.StartNew();
        await a.Coordinator.StartAsync(tenant);
        await _fleet.WaitUntilAllRunOnceAsync([tenant], ["b"], TimeSpan.FromSeconds(1));
        output.WriteLine($"start through a, running on b after {watch.ElapsedMilliseconds} ms");

        watch.Restart();
        var stopped = await a.Coordinator.StopAsync(tenant);
        Assert.Equal(TenantState.Stopped, stopped.State);
        await Eventually.UntilAsync(() => !_fleet.History.Running().ContainsKey(tenant), "the owner stopped the tenant", TimeSpan.FromSeconds(1));
        output.WriteLine($"stop through a, stopped on b after {watch.ElapsedMilliseconds} ms");
        await Eventually.UntilAsync(
            async () => (await a.Coordinator.GetStatusAsync(tenant))?.State == TenantState.Stopped, "the fleet view shows it stopped");
    }

    [Fact]
    public async Task A_joining_host_takes_its_share_through_graceful_handoff()
    {
        var a = await _fleet.AddHostAsync("a");
        var tenants = await _fleet.StartTenantsAsync(100);
        await _fleet.WaitUntilAllRunOnceAsync(tenants, ["a"]);

        var b = await _fleet.AddHostAsync("b");
        var running = await Eventually.UntilAsync(
            () => Task.FromResult(_fleet.History.Running()),
            r => r.Count == 100 && r.Values.All(h => h.Count == 1) && r.Values.Count(h => h[0] == "b") >= 30,
            "b took its share");
        output.WriteLine($"b owns {running.Values.Count(h => h[0] == "b")} of 100");

        // a forgets a released lease right after its release commits, while b may already have claimed it: converges at once.
        await Eventually.UntilAsync(() => a.Member.OwnedCount + b.Member.OwnedCount == 100, "the hosts' own lease maps add up to 100");
        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task A_host_that_stops_gracefully_hands_its_tenants_over_at_once()
    {
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b");
        var tenants = await _fleet.StartTenantsAsync(200);
        await _fleet.WaitUntilAllRunOnceAsync(tenants);

        var watch = Stopwatch.StartNew();
        await a.StopAsync();
        await _fleet.WaitUntilAllRunOnceAsync(tenants, ["b"], TimeSpan.FromSeconds(3));
        output.WriteLine($"handoff of a's tenants done {watch.ElapsedMilliseconds} ms after a's stop began");

        // Desired state survives: nothing was stopped in the registry.
        Assert.Equal(200, b.Member.OwnedCount);
    }

    [Fact]
    public async Task A_host_whose_renewals_stop_stops_its_clients_before_a_survivor_claims_them()
    {
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b");
        var tenants = await _fleet.StartTenantsAsync(100);
        await _fleet.WaitUntilAllRunOnceAsync(tenants);

        // A crash as far as the fleet can tell: no renewal, no heartbeat, no reconcile. Only a's own watchdog still runs.
        var watch = Stopwatch.StartNew();
        a.Member.CoordinationPaused = true;
        await _fleet.WaitUntilAllRunOnceAsync(tenants, ["b"], TimeSpan.FromSeconds(10));
        output.WriteLine($"failover done after {watch.ElapsedMilliseconds} ms (lease TTL 2 s)");
        Assert.Equal(0, a.Member.OwnedCount);
        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task A_survivor_claims_a_dead_hosts_tenants_when_their_leases_expire_not_at_its_next_periodic_reconcile()
    {
        // b reconciles by itself only once a minute: only the wake-up scheduled at the dead host's lease expiry can claim in time.
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b", configure: o => o.ReconcileInterval = TimeSpan.FromSeconds(60));
        var tenants = await _fleet.StartTenantsAsync(50);
        await _fleet.WaitUntilAllRunOnceAsync(tenants);
        Assert.InRange(a.Member.OwnedCount, 1, 49);

        var watch = Stopwatch.StartNew();
        a.Member.CoordinationPaused = true;
        await _fleet.WaitUntilAllRunOnceAsync(tenants, ["b"], TimeSpan.FromSeconds(15));
        output.WriteLine($"failover done after {watch.ElapsedMilliseconds} ms (lease TTL 2 s, b's reconcile interval 60 s)");
        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task A_host_cut_off_from_the_database_stops_its_clients_and_rejoins_when_it_returns()
    {
        string role = "fleet_cut_" + Guid.NewGuid().ToString("N")[..8];
        await ExecuteAdminAsync($"CREATE ROLE {role} LOGIN SUPERUSER");
        string cutOff = new NpgsqlConnectionStringBuilder(_database) { Username = role }.ConnectionString;
        var a = await _fleet.AddHostAsync("a", cutOff);
        var b = await _fleet.AddHostAsync("b");
        var tenants = await _fleet.StartTenantsAsync(100);
        await _fleet.WaitUntilAllRunOnceAsync(tenants);

        // The outage: a's role cannot log in any more and its sessions are gone.
        await ExecuteAdminAsync($"ALTER ROLE {role} NOLOGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'");
        await _fleet.WaitUntilAllRunOnceAsync(tenants, ["b"], TimeSpan.FromSeconds(15));
        Assert.Equal(0, a.Member.OwnedCount);
        _fleet.History.AssertNoOverlap();

        await ExecuteAdminAsync($"ALTER ROLE {role} LOGIN");
        await Eventually.UntilAsync(
            () => Task.FromResult(_fleet.History.Running()),
            r => r.Count == 100 && r.Values.All(h => h.Count == 1) && r.Values.Any(h => h[0] == "a"),
            "a took its share again");
    }

    [Fact]
    public async Task Administrative_state_writes_work_on_any_host_while_running_clients_stay_fenced()
    {
        var a = await _fleet.AddHostAsync("a");
        var b = await _fleet.AddHostAsync("b");
        var tenant = TenantId.Parse("admin1");

        // Before the tenant runs anywhere (for example its credentials being set through the API), on a host that will not own it.
        var admin = b.Host.Services.GetRequiredService<ITenantStateStoreProvider>().GetStore(tenant);
        await admin.SetAsync("credentials", "token", "t1"u8.ToArray());
        await a.Coordinator.StartAsync(tenant);
        var owner = await Eventually.UntilAsync(
            () => Task.FromResult(_fleet.History.Running()),
            r => r.TryGetValue(tenant, out var on) && on.Count == 1,
            "the tenant runs on one host");
        var running = (owner[tenant][0] == "a" ? a : b).Factory.Contexts[tenant].State;

        Assert.Equal("t1"u8.ToArray(), await running.GetAsync("credentials", "token"));
        Assert.IsNotType(admin.GetType(), running); // the client's store is the fenced one
    }

    [Fact]
    public async Task A_paused_host_whose_lease_expired_cannot_write_the_tenants_state()
    {
        var a = await _fleet.AddHostAsync("a");
        var tenant = TenantId.Parse("paused1");
        await a.Coordinator.StartAsync(tenant);
        await _fleet.WaitUntilAllRunOnceAsync([tenant], ["a"]);
        var staleStore = a.Factory.Contexts[tenant].State;
        await staleStore.SetAsync("device", "id", "from-a"u8.ToArray());

        // The whole of a freezes (a GC pause, SIGSTOP): its client keeps the store it was given; b takes over once the lease expires.
        // (A frozen process runs nothing, so its client's interval is left out of the overlap check.)
        _frozenHost = "a";
        a.Member.CoordinationPaused = true;
        a.Member.WatchdogPaused = true;
        var b = await _fleet.AddHostAsync("b");
        await Eventually.UntilAsync(() => _fleet.History.Running().TryGetValue(tenant, out var on) && on.Contains("b"), "b claimed the tenant");
        await b.Factory.Contexts[tenant].State.SetAsync("device", "id", "from-b"u8.ToArray());

        // a resumes and writes with its stale epoch: refused, typed, and the state is b's.
        var refused = await Assert.ThrowsAsync<TenantLeaseLostException>(async () => await staleStore.SetAsync("device", "id", "stale"u8.ToArray()));
        Assert.Equal(tenant, refused.Tenant);
        await Assert.ThrowsAsync<TenantLeaseLostException>(async () => await staleStore.DeleteAsync("device", "id"));
        await Assert.ThrowsAsync<TenantLeaseLostException>(async () => await staleStore.ClearAsync());
        Assert.Equal("from-b"u8.ToArray(), await b.Factory.Contexts[tenant].State.GetAsync("device", "id"));

        // Its status writes are refused too: the fleet view keeps b as the owner.
        var stale = new TenantStatus(tenant, TenantState.Connected, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1), null, "a");
        await a.Host.Services.GetRequiredService<ITenantStatusStore>().UpsertAsync([stale], CancellationToken.None);
        var stored = await b.Coordinator.GetStatusAsync(tenant);
        Assert.Equal("b", stored?.Host);

        a.Member.WatchdogPaused = false; // a's watchdog now stops its stale client
        await _fleet.WaitUntilAllRunOnceAsync([tenant], ["b"]);
    }

    [Fact]
    public async Task Ownership_churn_never_runs_a_tenant_on_two_hosts_at_once()
    {
        await _fleet.AddHostAsync("a");
        await _fleet.AddHostAsync("b");
        var tenants = await _fleet.StartTenantsAsync(60);
        await _fleet.WaitUntilAllRunOnceAsync(tenants);

        var c = await _fleet.AddHostAsync("c");                       // join
        await _fleet.Hosts[0].StopAsync();                             // graceful leave
        c.Member.CoordinationPaused = true;                            // crash of the joiner
        var d = await _fleet.AddHostAsync("d");                        // another join while c is dying
        await _fleet.Hosts[1].Coordinator.StopAsync(tenants[0]);       // API stop and restart elsewhere
        await d.Coordinator.StartAsync(tenants[0]);
        await _fleet.WaitUntilAllRunOnceAsync(tenants, ["b", "d"], TimeSpan.FromSeconds(20));
        c.Member.CoordinationPaused = false;                           // c comes back: it rejoins and takes a share
        await Eventually.UntilAsync(
            () => Task.FromResult(_fleet.History.Running()),
            r => r.Count == 60 && r.Values.All(h => h.Count == 1) && r.Values.Any(h => h[0] == "c"),
            "c took a share again");
        _fleet.History.AssertNoOverlap();
        output.WriteLine($"{_fleet.History.Intervals.Count} ownership intervals checked");
    }

    /// <summary>A tenant id that rendezvous hashing places on <paramref name="host"/> among <paramref name="hosts"/>.</summary>
    private async Task ExecuteAdminAsync(string sql)
    {
        await using var command = fixture.Admin.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
