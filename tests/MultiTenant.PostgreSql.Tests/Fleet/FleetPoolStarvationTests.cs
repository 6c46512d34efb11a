using Microsoft.Extensions.DependencyInjection;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Npgsql;
using Xunit;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>Failure path 2 of issue 11: API load that fills the store's pool never starves the fleet's coordination traffic.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetPoolStarvationTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private FleetHarness _fleet = null!;

    public async Task InitializeAsync() =>
        _fleet = new FleetHarness(await fixture.GetDatabaseAsync(nameof(FleetPoolStarvationTests)), PostgreSqlTestStore.NewSchema());

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task An_api_pool_of_3_held_for_longer_than_the_lease_loses_no_lease()
    {
        // A 6 s lease, renewed every second: roomy enough that a busy 2-core machine alone never costs a lease here.
        var a = await _fleet.AddHostAsync(
            "a",
            maxPoolSize: 3,
            configure: o =>
            {
                o.LeaseTtl = TimeSpan.FromSeconds(6);
                o.RenewInterval = TimeSpan.FromSeconds(1);
                o.SafetyMargin = TimeSpan.FromSeconds(2);
            });
        var tenants = await _fleet.StartTenantsAsync(20);
        await _fleet.WaitUntilAllRunOnceAsync(tenants);
        var epochs = tenants.ToDictionary(t => t, t => a.Member.GetEpoch(t));
        int intervals = _fleet.History.Intervals.Count;

        // API load: every connection of the store's pool is taken, and a request waiting for one would wait its connect timeout.
        var api = a.Host.Services.GetRequiredService<NpgsqlDataSource>();
        var held = new List<NpgsqlConnection>();
        for (int i = 0; i < 3; i++)
        {
            held.Add(await api.OpenConnectionAsync());
        }

        try
        {
            using var starved = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            await Assert.ThrowsAnyAsync<Exception>(async () => await api.OpenConnectionAsync(starved.Token));

            // Seven renewals a second apart: longer than the 6 s lease, with the pool exhausted all along.
            long renewals = a.Member.Renewals;
            await Eventually.UntilAsync(() => Task.FromResult(a.Member.Renewals), n => n >= renewals + 7, "seven renewals while the API pool is exhausted");
            Assert.Equal(tenants.Count, a.Member.OwnedCount);
            Assert.All(tenants, t => Assert.Equal(epochs[t], a.Member.GetEpoch(t)));
            var host = (ITenantHost)a.Host.Services.GetRequiredService<TenantCoordinator>();
            Assert.All(tenants, t => Assert.Equal(TenantState.Connected, host.GetLocalStatus(t)!.State));
        }
        finally
        {
            foreach (var connection in held)
            {
                await connection.DisposeAsync();
            }
        }

        // No client was stopped or started again meanwhile.
        Assert.Equal(intervals, _fleet.History.Intervals.Count);
        Assert.All(_fleet.History.Intervals, i => Assert.True(i.IsOpen));
    }
}
