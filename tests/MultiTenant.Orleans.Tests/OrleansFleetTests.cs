using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;

namespace MultiTenant.Orleans.Tests;

/// <summary>
/// The Orleans placement with real silos: three hosts in this process, each with its own silo on loopback ports, sharing one real
/// PostgreSQL database for the tenants, the leases and Orleans' membership. A shared audit records which host runs each tenant's client,
/// so a tenant running on two hosts at once fails the test.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class OrleansFleetTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(45);
    private readonly RunAudit _audit = new();
    private readonly List<IHost> _hosts = [];
    private string _database = null!;

    public async Task InitializeAsync() => _database = await fixture.CreateDatabaseAsync(nameof(OrleansFleetTests));

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await host.StopAsync(timeout.Token);
            host.Dispose();
        }

        NpgsqlConnection.ClearAllPools();
    }

    [Fact]
    public async Task Tenants_spread_over_the_silos_run_once_sends_reach_their_owner_and_a_graceful_stop_hands_them_over()
    {
        var hosts = new List<IHost>();
        foreach (var id in new[] { "silo-a", "silo-b", "silo-c" })
        {
            hosts.Add(await StartHostAsync(id));
        }

        var tenants = Enumerable.Range(1, 30).Select(i => TenantId.Parse("orl" + i)).ToArray();
        var first = Coordinator(hosts[0]);
        foreach (var tenant in tenants)
        {
            Assert.Equal(TenantState.Starting, (await first.StartAsync(tenant)).State);
        }

        await Eventually.UntilAsync(() => Task.FromResult(_audit.Running()), running => tenants.All(running.ContainsKey)
            && running.Values.Distinct().Count() == 3, "every tenant runs, on all three silos", WaitLimit);

        // A second start of a running tenant is refused, wherever it is asked.
        await Assert.ThrowsAsync<TenantAlreadyRunningException>(async () => await Coordinator(hosts[2]).StartAsync(tenants[0]));

        // Sends through any host are grain calls to the owner's silo: the owner's client answers.
        var third = Coordinator(hosts[2]);
        var owners = _audit.Running();
        foreach (var tenant in tenants)
        {
            var result = await third.SendMessageAsync(tenant, new OutboundMessage("+15550001", "hello"));
            Assert.StartsWith(owners[tenant] + ":", result.MessageId, StringComparison.Ordinal);
        }

        await Assert.ThrowsAsync<TenantNotFoundException>(() => third.SendMessageAsync(TenantId.Parse("nobody"), new OutboundMessage("+15550001", "x")));

        // A stop through another host stops the tenant on its owner and releases its lease.
        var stopped = tenants[1];
        Assert.Equal(TenantState.Stopped, (await Coordinator(hosts[1]).StopAsync(stopped)).State);
        await Eventually.UntilAsync(() => Task.FromResult(_audit.Running()), running => !running.ContainsKey(stopped), "the stopped tenant's client closed", WaitLimit);
        await Assert.ThrowsAsync<TenantNotConnectedException>(() => third.SendMessageAsync(stopped, new OutboundMessage("+15550001", "x")));

        // A graceful stop of a silo: its grains deactivate, releasing their leases, and the others run its tenants.
        var leaving = hosts[0];
        int handedOver = _audit.Running().Count(r => r.Value == "silo-a");
        Assert.True(handedOver > 0);
        await leaving.StopAsync();
        var remaining = tenants.Where(t => t != stopped).ToArray();
        await Eventually.UntilAsync(() => Task.FromResult(_audit.Running()), running => remaining.All(running.ContainsKey)
            && running.Values.All(h => h != "silo-a"), $"the {handedOver} tenants of silo-a run on the others", WaitLimit);
        Assert.False(_audit.Running().ContainsKey(stopped));

        var statuses = await Eventually.UntilAsync(
            async () => await Coordinator(hosts[1]).ListStatusesAsync(),
            list => remaining.All(t => list.Any(s => s.BusinessId == t && s.State == TenantState.Connected && s.Host is "silo-b" or "silo-c")),
            "the fleet view lists every running tenant connected on a survivor", WaitLimit);
        Assert.Equal(TenantState.Stopped, statuses.Single(s => s.BusinessId == stopped).State);
        Assert.Empty(_audit.Overlaps);
    }

    [Fact]
    public async Task An_activation_without_the_lease_stays_passive_until_the_lease_is_free()
    {
        var host = await StartHostAsync("silo-p");
        var tenant = TenantId.Parse("passive1");

        // Another (live, as far as the database knows) instance holds the tenant's lease.
        await using (var data = NpgsqlDataSource.Create(_database))
        {
            await using var hold = data.CreateCommand("""
                INSERT INTO multitenant.leases (business_id, owner, instance_id, epoch, acquired_at, expires_at)
                VALUES ('passive1', 'elsewhere', gen_random_uuid(), 41, now(), now() + interval '1 hour')
                """);
            await hold.ExecuteNonQueryAsync();
        }

        await Coordinator(host).StartAsync(tenant);

        // The grain is active but passive: it keeps trying (every second) and never runs the tenant while the lease is held elsewhere.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(3))
        {
            Assert.False(_audit.Running().ContainsKey(tenant), "the tenant ran without its lease");
            await Task.Delay(100);
        }

        await using (var data = NpgsqlDataSource.Create(_database))
        {
            await using var free = data.CreateCommand("UPDATE multitenant.leases SET expires_at = now() WHERE business_id = 'passive1'");
            await free.ExecuteNonQueryAsync();
        }

        await Eventually.UntilAsync(() => Task.FromResult(_audit.Running()), running => running.ContainsKey(tenant), "the tenant runs once the lease expired", WaitLimit);
        Assert.Equal(42, _audit.EpochOf(tenant));
        Assert.Empty(_audit.Overlaps);
    }

    private static ITenantCoordinator Coordinator(IHost host) => host.Services.GetRequiredService<ITenantCoordinator>();

    private async Task<IHost> StartHostAsync(string id)
    {
        var host = TestHosts.Build(
            services => services.AddWhatsAppTenants(o => o.HostId = id)
                .UseClientFactory(new AuditedClientFactory(id, _audit))
                .UsePostgreSql(_database)
                .UseOrleansFleet(o =>
                {
                    o.SiloPort = FreePort();
                    o.GatewayPort = FreePort();
                    o.FailureDetectionTime = TimeSpan.FromSeconds(2);
                }),
            new Dictionary<string, string?>
            {
                // Short leases for speed (valid: renew ≤ (TTL − margin) / 2).
                ["WhatsAppTenants:Fleet:LeaseTtl"] = "00:00:03",
                ["WhatsAppTenants:Fleet:RenewInterval"] = "00:00:00.500",
                ["WhatsAppTenants:Fleet:SafetyMargin"] = "00:00:01",
                ["WhatsAppTenants:Fleet:HeartbeatInterval"] = "00:00:00.500",
            },
            LogLevel.Warning);
        _hosts.Add(host);
        await host.StartAsync();
        return host;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Which host runs each tenant's client now (connect to dispose), and every time two ran one tenant at once.</summary>
    private sealed class RunAudit
    {
        private readonly ConcurrentDictionary<TenantId, (string Host, long Epoch)> _running = new();

        public ConcurrentQueue<string> Overlaps { get; } = new();

        public Dictionary<TenantId, string> Running() => _running.ToDictionary(r => r.Key, r => r.Value.Host);

        public long EpochOf(TenantId tenant) => _running[tenant].Epoch;

        public void Open(TenantId tenant, string host, long epoch)
        {
            var current = _running.GetOrAdd(tenant, (host, epoch));
            if (current.Host != host)
            {
                Overlaps.Enqueue($"{tenant} opened on {host} (epoch {epoch}) while running on {current.Host} (epoch {current.Epoch})");
            }
        }

        public void Close(TenantId tenant, string host)
        {
            if (_running.TryGetValue(tenant, out var run) && run.Host == host)
            {
                _running.TryRemove(new KeyValuePair<TenantId, (string, long)>(tenant, run));
            }
        }
    }

    private sealed class AuditedClientFactory(string host, RunAudit audit) : ITenantClientFactory
    {
        public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken)
        {
            var tenant = context.BusinessId;
            long epoch = context.OwnershipEpoch;
            bool opened = false;
            return ValueTask.FromResult<ITenantClient>(new InstantClient(
                send: _ => Task.FromResult(new SendMessageResult(host + ":" + Guid.NewGuid().ToString("N"))),
                beforeConnect: (_, _) =>
                {
                    if (!opened)
                    {
                        opened = true;
                        audit.Open(tenant, host, epoch);
                    }

                    return Task.CompletedTask;
                },
                onDispose: () =>
                {
                    if (opened)
                    {
                        audit.Close(tenant, host);
                    }
                }));
        }
    }
}
