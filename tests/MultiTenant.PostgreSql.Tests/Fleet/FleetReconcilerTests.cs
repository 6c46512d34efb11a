using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>
/// The reconciler alone, on a real PostgreSQL schema, with real membership and lease keepers and a recording host instead of a
/// coordinator: placement, claims, handoffs, stops, and its timer-driven loop on a fake clock.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetReconcilerTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private PostgreSqlTestStore _store = null!;
    private string _schema = null!;

    public async Task InitializeAsync()
    {
        _schema = PostgreSqlTestStore.NewSchema();
        _store = PostgreSqlTestStore.Open(await fixture.GetDatabaseAsync(nameof(FleetReconcilerTests)), _schema);
        await _store.Store.MigrateAsync();
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Claims_the_tenants_placed_here_hands_the_others_over_to_the_live_host_they_are_placed_on_and_releases_stopped_ones()
    {
        var tenants = Enumerable.Range(0, 20).Select(i => TenantId.Parse($"p{i:D2}")).ToList();
        foreach (var tenant in tenants)
        {
            await _store.Store.SetDesiredStateAsync(tenant, running: true, CancellationToken.None);
        }

        // Alone, host a claims every desired tenant and activates each under the epoch of its lease.
        var a = await Member.StartAsync(this, "a");
        await a.Reconciler.ReconcileAsync(a.Host, CancellationToken.None);
        Assert.Equal(tenants.Order(), a.Host.Activations.Select(x => x.Tenant).Order());
        Assert.All(a.Host.Activations, x => Assert.Equal(a.Leases.GetEpoch(x.Tenant), x.Epoch));

        // Host b joins: a hands over exactly the tenants rendezvous hashing places on b (stopped, then released) and keeps the rest;
        // b claims them under higher epochs.
        var b = await Member.StartAsync(this, "b");
        var placement = Rendezvous.Assign(tenants, [new FleetHost("a", null), new FleetHost("b", null)]);
        var toB = tenants.Where(t => placement[t] == "b").Order().ToList();
        Assert.NotEmpty(toB);
        var epochsOnA = tenants.ToDictionary(t => t, t => a.Leases.GetEpoch(t)!.Value);
        await b.Reconciler.ReconcileAsync(b.Host, CancellationToken.None);
        Assert.Empty(b.Host.Activations); // a still holds them
        await a.Reconciler.ReconcileAsync(a.Host, CancellationToken.None);
        Assert.Equal(toB, a.Host.Deactivations.Select(x => x.Tenant).Order());
        Assert.All(a.Host.Deactivations, x => Assert.Equal(TenantDeactivationReason.Released, x.Reason));
        Assert.Equal(tenants.Count - toB.Count, a.Leases.Count);
        await b.Reconciler.ReconcileAsync(b.Host, CancellationToken.None);
        Assert.Equal(toB, b.Host.Activations.Select(x => x.Tenant).Order());
        Assert.All(b.Host.Activations, x => Assert.True(x.Epoch > epochsOnA[x.Tenant], $"{x.Tenant}: epoch {x.Epoch} after {epochsOnA[x.Tenant]}"));

        // A tenant stopped through the API (desired no longer running): its owner stops it and releases its lease.
        var stopped = tenants.First(t => placement[t] == "a");
        await _store.Store.SetDesiredStateAsync(stopped, running: false, CancellationToken.None);
        await a.Reconciler.ReconcileAsync(a.Host, CancellationToken.None);
        Assert.Equal((stopped, TenantDeactivationReason.Released), a.Host.Deactivations.Last());
        Assert.Null(a.Leases.GetEpoch(stopped));
        Assert.Equal(tenants.Count - toB.Count - 1, a.Leases.Count);
        await b.Reconciler.ReconcileAsync(b.Host, CancellationToken.None);
        Assert.DoesNotContain(b.Host.Activations, x => x.Tenant == stopped);
    }

    [Fact]
    public async Task The_loop_reconciles_on_a_wake_and_on_its_timer_which_is_due_just_after_another_instances_lease_expires()
    {
        var tenant = TenantId.Parse("expiring");
        await _store.Store.SetDesiredStateAsync(tenant, running: true, CancellationToken.None);

        // Another instance, not among the live hosts (it died), holds the tenant's lease for 2 more seconds by the database clock.
        var dead = await Member.StartAsync(this, "dead", register: false);
        Assert.Equal(1, await dead.Leases.AcquireAsync([tenant], "dead", new Dictionary<TenantId, long>(), (_, _) => { }, CancellationToken.None));

        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var a = await Member.StartAsync(this, "a", time: time, reconcileInterval: TimeSpan.FromMinutes(1));
        Assert.Equal(TimeSpan.FromMinutes(1), a.Reconciler.NextReconcile);
        using var stop = new CancellationTokenSource();
        var loop = a.Reconciler.RunAsync(a.Host, stop.Token);

        // A wake-up runs a reconcile at once: the lease is still held elsewhere, so nothing is claimed, and the next reconcile is due just
        // after its expiry (by the database clock), not a minute later.
        a.Reconciler.Wake();
        await Eventually.UntilAsync(() => a.Reconciler.NextReconcile < TimeSpan.FromMinutes(1), "the woken loop reconciled");
        var next = a.Reconciler.NextReconcile;
        Assert.InRange(next, TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(2.1));
        Assert.Empty(a.Host.Activations);

        // The lease expires by the database clock; the fake clock has not moved, so the loop still waits.
        await Eventually.UntilAsync(() => LeaseExpiredAsync(tenant), "the dead instance's lease expired in the database");
        await Task.Delay(100);
        Assert.Empty(a.Host.Activations);

        // Its timer fires: the reconcile claims the tenant, and with no other lease due the next one is an interval away again.
        time.Advance(next);
        await Eventually.UntilAsync(() => !a.Host.Activations.IsEmpty, "the timer's reconcile claimed the expired lease");
        Assert.Equal(tenant, Assert.Single(a.Host.Activations).Tenant);
        Assert.Equal(TimeSpan.FromMinutes(1), a.Reconciler.NextReconcile);

        await stop.CancelAsync();
        await loop.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task<bool> LeaseExpiredAsync(TenantId tenant)
    {
        await using var command = _store.DataSource.CreateCommand($"SELECT expires_at <= now() FROM \"{_schema}\".leases WHERE business_id = $1");
        command.Parameters.AddWithValue(tenant.Value);
        return await command.ExecuteScalarAsync() is true;
    }

    /// <summary>One instance's membership, lease keeper and reconciler, over a recording host.</summary>
    private sealed record Member(FleetMembership Membership, LeaseKeeper Leases, FleetReconciler Reconciler, RecordingTenantHost Host)
    {
        public static async Task<Member> StartAsync(
            FleetReconcilerTests test, string hostId, bool register = true, TimeProvider? time = null, TimeSpan? reconcileInterval = null)
        {
            var options = new FleetOptions();
            FleetHarness.FastTimings(options);
            options.ReconcileInterval = reconcileInterval ?? options.ReconcileInterval;
            var clock = time ?? TimeProvider.System;
            var sql = new FleetStatements(test._schema);
            var data = test._store.DataSource;
            var channel = new FleetChannel(data, sql, clock, NullLogger.Instance, _ => { }, () => { });
            var instance = Guid.NewGuid();
            var leases = new LeaseKeeper(data, sql, channel, options, clock, NullLogger.Instance, instance, 5, () => false, () => false, _ => { });
            var membership = new FleetMembership(data, sql, channel, options, clock, NullLogger.Instance, instance, 5, () => false, () => { });
            if (register)
            {
                // Registered with a heartbeat valid for a while: these tests drive no heartbeat loop.
                await membership.RegisterAsync(hostId, CancellationToken.None);
                await using var alive = data.CreateCommand($"UPDATE \"{test._schema}\".hosts SET last_seen = now() + interval '1 hour' WHERE host_id = $1");
                alive.Parameters.AddWithValue(hostId);
                await alive.ExecuteNonQueryAsync();
            }

            var reconciler = new FleetReconciler(data, sql, options, clock, NullLogger.Instance, leases, membership, 5, () => false);
            return new Member(membership, leases, reconciler, new RecordingTenantHost(hostId));
        }
    }
}
