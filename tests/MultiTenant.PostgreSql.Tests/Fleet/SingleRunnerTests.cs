using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Xunit.Abstractions;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>
/// One runner per tenant whenever PostgreSQL is used: two processes on one database that call only <c>UsePostgreSql()</c> (no
/// <c>UseFleet()</c>, default fleet options), as in a rolling deploy or with two replicas, never run one tenant at the same time.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class SingleRunnerTests(PostgreSqlFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task Two_processes_with_their_own_host_ids_share_the_tenants_and_never_run_one_twice()
    {
        string database = await fixture.GetDatabaseAsync(nameof(SingleRunnerTests));
        string schema = PostgreSqlTestStore.NewSchema();
        var history = new OwnershipHistory();

        await using var a = await StartAsync(database, schema, "replica-a", history);
        var tenants = await StartTenantsAsync(a, 0, 20);
        await WaitUntilAllRunOnceAsync(history, tenants, "replica-a");

        // The second replica of a rolling deploy starts while the first runs every tenant, and more tenants are started through it.
        await using var b = await StartAsync(database, schema, "replica-b", history);
        Assert.IsType<FleetMember>(b.Host.Services.GetRequiredService<ITenantPlacement>());
        tenants.AddRange(await StartTenantsAsync(b, 20, 30));
        var running = await WaitUntilAllRunOnceAsync(history, tenants, "replica-a", "replica-b", bothHosts: true);
        output.WriteLine($"both up: a runs {running.Count(r => r.Value[0] == "replica-a")}, b runs {running.Count(r => r.Value[0] == "replica-b")}");
        history.AssertNoOverlap();

        // The old replica stops: the new one runs every tenant, each after the old run ended and under a higher epoch.
        await a.DisposeAsync();
        await WaitUntilAllRunOnceAsync(history, tenants, "replica-b");
        history.AssertNoOverlap();
        Assert.All(history.Intervals, i => Assert.True(i.Epoch > 0, $"run under a lease epoch: {i}"));
    }

    [Fact]
    public async Task A_second_process_with_the_same_host_id_runs_no_tenant_until_the_first_one_left()
    {
        string database = await fixture.GetDatabaseAsync(nameof(SingleRunnerTests));
        string schema = PostgreSqlTestStore.NewSchema();
        var history = new OwnershipHistory();

        await using var first = await StartAsync(database, schema, "same-host", history);
        var tenants = await StartTenantsAsync(first, 0, 10);
        await WaitUntilAllRunOnceAsync(history, tenants, "same-host");

        // Same host id (the default is the machine name): the second instance waits at start while the first one heartbeats.
        var secondHistory = new OwnershipHistory();
        var second = Build(database, schema, "same-host", secondHistory);
        await using var secondHost = new Running(second);
        var starting = second.StartAsync();
        await Eventually.UntilAsync(
            () => Task.FromResult(second.Services.GetFakeLogCollector().GetSnapshot().Any(r => r.Id.Id == FleetEventIds.HostIdBusy)),
            busy => busy, "the second instance reports the host id as busy");
        Assert.False(starting.IsCompleted);
        Assert.Empty(secondHistory.Intervals);
        Assert.Equal(tenants.Count, first.Member.OwnedCount);

        // The first instance stops (hands over): the second joins and runs every tenant, after the first's runs ended.
        var firstIntervals = history.Intervals.ToList();
        await first.DisposeAsync();
        await starting.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilAllRunOnceAsync(secondHistory, tenants, "same-host");
        long lastEnd = firstIntervals.Max(i => i.To);
        Assert.All(secondHistory.Intervals, i => Assert.True(i.From >= lastEnd, $"{i} started before the first instance's runs ended"));
        Assert.All(tenants, t => Assert.True(
            secondHistory.Intervals.Single(i => i.Tenant == t).Epoch > firstIntervals.Single(i => i.Tenant == t).Epoch, $"{t}: higher epoch"));
    }

    private static IHost Build(string database, string schema, string hostId, OwnershipHistory history)
    {
        var factory = new RecordingClientFactory(history, hostId);
        var host = TestHosts.Build(
            services => services
                .AddWhatsAppTenants(o => o.HostId = hostId)
                .UseClientFactory(factory)
                .UsePostgreSql(database, o => o.Schema = schema),
            minimumLevel: LogLevel.Information);
        factory.Member = host.Services.GetRequiredService<FleetMember>();
        return host;
    }

    private static async Task<Running> StartAsync(string database, string schema, string hostId, OwnershipHistory history)
    {
        var host = Build(database, schema, hostId, history);
        await host.StartAsync();
        return new Running(host);
    }

    private static async Task<List<TenantId>> StartTenantsAsync(Running host, int from, int count)
    {
        var coordinator = host.Host.Services.GetRequiredService<ITenantCoordinator>();
        var tenants = new List<TenantId>();
        for (int i = from; i < from + count; i++)
        {
            var tenant = TenantId.Parse($"r{i:D3}");
            tenants.Add(tenant);
            await coordinator.StartAsync(tenant);
        }

        return tenants;
    }

    private static Task<Dictionary<TenantId, List<string>>> WaitUntilAllRunOnceAsync(
        OwnershipHistory history, List<TenantId> tenants, string host, string? other = null, bool bothHosts = false) =>
        Eventually.UntilAsync(
            () => Task.FromResult(history.Running()),
            running => running.Count == tenants.Count
                && tenants.All(t => running.TryGetValue(t, out var on) && on.Count == 1 && (on[0] == host || on[0] == other))
                && (!bothHosts || (running.Values.Any(on => on[0] == host) && running.Values.Any(on => on[0] == other))),
            $"all {tenants.Count} tenants run exactly once on {host}{(other is null ? string.Empty : " or " + other)}");

    /// <summary>A started host, stopped gracefully and disposed once.</summary>
    private sealed class Running(IHost host) : IAsyncDisposable
    {
        private int _disposed;

        public IHost Host { get; } = host;

        public FleetMember Member => Host.Services.GetRequiredService<FleetMember>();

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await Host.StopAsync();
                Host.Dispose();
            }
        }
    }
}
