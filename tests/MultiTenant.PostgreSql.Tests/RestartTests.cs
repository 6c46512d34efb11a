using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>A coordinator stopped and created again on the same database resumes what was started, and only that.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class RestartTests(PostgreSqlFixture fixture)
{
    private static readonly TenantId T1 = TenantId.Parse("tenant-1");
    private static readonly TenantId T2 = TenantId.Parse("tenant-2");
    private static readonly TenantId T3 = TenantId.Parse("tenant-3");

    [Fact]
    public async Task A_restarted_host_resumes_the_tenants_that_were_started_and_not_the_stopped_ones()
    {
        string database = await fixture.GetDatabaseAsync(nameof(RestartTests));
        string schema = PostgreSqlTestStore.NewSchema();

        var firstFactory = new InstantClientFactory();
        using (var first = BuildHost(database, schema, "host-1", firstFactory))
        {
            await first.StartAsync();
            var coordinator = first.Services.GetRequiredService<ITenantCoordinator>();
            await coordinator.StartAsync(T1);
            await coordinator.StartAsync(T2);
            await coordinator.StartAsync(T3);
            await coordinator.StopAsync(T3);
            await Eventually.UntilAsync(() => coordinator.Counts.Connected == 2, "two tenants are connected on host-1");
            await first.StopAsync();
        }

        // The shutdown flushed the statuses: every tenant reads as stopped, and none was stopped in the registry.
        await using (var reader = PostgreSqlTestStore.Open(database, schema))
        {
            var statuses = await reader.Store.ListAsync(CancellationToken.None);
            Assert.Equal([T1, T2, T3], statuses.Select(s => s.BusinessId));
            Assert.All(statuses, s => Assert.Equal(TenantState.Stopped, s.State));
            Assert.Equal([T1, T2], await reader.Store.ListDesiredRunningAsync(CancellationToken.None));
        }

        var secondFactory = new InstantClientFactory();
        using (var second = BuildHost(database, schema, "host-2", secondFactory))
        {
            await second.StartAsync();
            var coordinator = second.Services.GetRequiredService<ITenantCoordinator>();
            await Eventually.UntilAsync(() => coordinator.Counts.Connected == 2, "host-2 resumed two tenants");

            Assert.Equal(1, secondFactory.CreatedFor(T1));
            Assert.Equal(1, secondFactory.CreatedFor(T2));
            Assert.Equal(0, secondFactory.CreatedFor(T3));
            Assert.Equal(TenantState.Stopped, (await coordinator.GetStatusAsync(T3))!.State);

            // Their statuses reach the database, owned by the new host.
            var statuses = second.Services.GetRequiredService<ITenantStatusStore>();
            await Eventually.UntilAsync(
                async () => (await statuses.ListAsync(CancellationToken.None)).Count(s => s.State == TenantState.Connected && s.Host == "host-2") == 2,
                "the resumed tenants' statuses are stored as connected on host-2");

            await coordinator.StopAsync(T1);
            await second.StopAsync();
        }

        var thirdFactory = new InstantClientFactory();
        using (var third = BuildHost(database, schema, "host-3", thirdFactory))
        {
            await third.StartAsync();
            var coordinator = third.Services.GetRequiredService<ITenantCoordinator>();
            await Eventually.UntilAsync(() => coordinator.Counts.Connected == 1, "host-3 resumed one tenant");

            Assert.Equal(0, thirdFactory.CreatedFor(T1));
            Assert.Equal(1, thirdFactory.CreatedFor(T2));
            await third.StopAsync();
        }
    }

    private static IHost BuildHost(string database, string schema, string hostId, InstantClientFactory factory) =>
        TestHosts.Build(services => services
            .AddWhatsAppTenants(o => o.HostId = hostId)
            .UseClientFactory(factory)
            .UsePostgreSql(database, o => o.Schema = schema));
}
