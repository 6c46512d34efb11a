using System.Net;
using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Events;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Wuzapi.Tests.Infrastructure;

namespace MultiTenant.Wuzapi.Tests.Fleet;

/// <summary>
/// Two hosts as a fleet on one real PostgreSQL database (leases, shared state store and inbox) with the fake engine on loopback: the
/// engine may post to either host; only the owner drives the session; a tenant that moves keeps its engine user and paired session.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class WuzapiFleetTests(PostgreSqlFixture postgres) : IAsyncLifetime
{
    private FakeWuzapiEngine _engine = null!;
    private WuzapiTestHost _h1 = null!;
    private WuzapiTestHost _h2 = null!;

    public async Task InitializeAsync()
    {
        _engine = await FakeWuzapiEngine.StartAsync();
        string database = await postgres.CreateDatabaseAsync("wuzapifleet");
        _h1 = await StartHostAsync("h1", database);
        _h2 = await StartHostAsync("h2", database);
    }

    public async Task DisposeAsync()
    {
        await _h1.DisposeAsync();
        await _h2.DisposeAsync();
        await _engine.DisposeAsync();
    }

    [Fact]
    public async Task A_tenant_moving_to_the_other_host_keeps_its_engine_session_and_webhooks_to_either_host_reach_its_owner_once()
    {
        var tenant = TenantId.Parse("fleet-1");
        await _h1.Coordinator.StartAsync(tenant);
        var connected1 = _h1.Events.WaitForAsync<TenantConnectedEvent>(tenant);
        var connected2 = _h2.Events.WaitForAsync<TenantConnectedEvent>(tenant);
        await Task.WhenAny(_h1.WaitForChallengeAsync(tenant), _h2.WaitForChallengeAsync(tenant)).Unwrap(); // the owner shows the QR code
        _engine.Pair("fleet-1");
        var first = await Task.WhenAny(connected1, connected2);
        await first;
        var (owner, other) = first == connected1 ? (_h1, _h2) : (_h2, _h1);

        // The engine posts to the host that does not run the tenant: stored in the shared inbox, handled by the owner.
        Assert.Equal(HttpStatusCode.OK, await DeliverToAsync(other, "fleet-1", InboundTests.TextMessage("3EB0FLEET0001", "to the other host")));
        await owner.Events.WaitForAsync(events => events.Any(e => e.Event is MessageEvent { MessageId: "3EB0FLEET0001" }));
        int qrBefore = _engine.Count("GET", "/session/qr");

        // The owner goes away (an orderly shutdown: it disconnects, the engine keeps the device); the other host takes the tenant over.
        await owner.DisposeAsync();
        await other.Events.WaitForAsync<TenantConnectedEvent>(tenant);

        Assert.Equal(1, _engine.Count("POST", "/admin/users"));
        Assert.Equal(qrBefore, _engine.Count("GET", "/session/qr")); // no pairing on the new host
        Assert.Equal(2, _engine.Count("POST", "/session/connect"));
        Assert.True(_engine.User("fleet-1").HasDevice);
        Assert.Empty(other.Events.Of<MessageEvent>(tenant)); // handled once, by the first owner

        // Its webhooks still arrive (the engine user's URL names the tenant, not a host) and the new owner handles them.
        Assert.Equal(HttpStatusCode.OK, await DeliverToAsync(other, "fleet-1", InboundTests.TextMessage("3EB0FLEET0002", "after the move")));
        await other.Events.WaitForAsync(events => events.Any(e => e.Event is MessageEvent { MessageId: "3EB0FLEET0002" }));
        Assert.Single(other.Events.Of<MessageEvent>(tenant));
    }

    /// <summary>Posts as the engine does, to <paramref name="host"/>'s webhook for <paramref name="tenant"/>.</summary>
    private Task<HttpStatusCode> DeliverToAsync(WuzapiTestHost host, string tenant, string jsonData) =>
        _engine.DeliverAsync(tenant, jsonData, webhook: new Uri(host.Http.BaseAddress!, "webhooks/wuzapi/" + tenant));

    private Task<WuzapiTestHost> StartHostAsync(string id, string database) =>
        WuzapiTestHost.StartAsync(
            _engine,
            coordinator: o =>
            {
                WuzapiTestHost.Quick(o);
                o.HostId = id;
            },
            tenants: t => t.UsePostgreSql(database)
                .ConfigureSecrets(o => o.KeyEncryptionKey = SecretScan.KeyEncryptionKey)
                .UseFleet(o =>
                {
                    o.LeaseTtl = TimeSpan.FromSeconds(2);
                    o.RenewInterval = TimeSpan.FromMilliseconds(500);
                    o.SafetyMargin = TimeSpan.FromMilliseconds(700);
                    o.HeartbeatInterval = TimeSpan.FromMilliseconds(300);
                    o.DeadAfterMissedHeartbeats = 3;
                    o.ReconcileInterval = TimeSpan.FromMilliseconds(250);
                }));
}
