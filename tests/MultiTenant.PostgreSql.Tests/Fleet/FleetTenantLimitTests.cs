using MultiTenant.PostgreSql.Tests.Infrastructure;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>MaxTenants is fleet-wide: it counts the tenants the store records as running, whichever host started them.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetTenantLimitTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private FleetHarness _fleet = null!;

    public async Task InitializeAsync() =>
        _fleet = new FleetHarness(await fixture.GetDatabaseAsync(nameof(FleetTenantLimitTests)), PostgreSqlTestStore.NewSchema());

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task A_start_on_another_host_beyond_MaxTenants_is_refused_until_a_tenant_stops()
    {
        var a = await _fleet.AddHostAsync("a", coordinator: o => o.MaxTenants = 2);
        var b = await _fleet.AddHostAsync("b", coordinator: o => o.MaxTenants = 2);
        await a.Coordinator.StartAsync(TenantId.Parse("t1"));
        await b.Coordinator.StartAsync(TenantId.Parse("t2"));

        var refused = await Assert.ThrowsAsync<TenantLimitReachedException>(async () => await a.Coordinator.StartAsync(TenantId.Parse("t3")));
        Assert.Equal(2, refused.MaxTenants);
        await Assert.ThrowsAsync<TenantLimitReachedException>(async () => await b.Coordinator.StartAsync(TenantId.Parse("t3")));

        await a.Coordinator.StopAsync(TenantId.Parse("t2"));
        await b.Coordinator.StartAsync(TenantId.Parse("t3"));
        await _fleet.WaitUntilAllRunOnceAsync([TenantId.Parse("t1"), TenantId.Parse("t3")]);
    }
}
