using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Diagnostics;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>A server of this class's own, since the test stops and starts it.</summary>
public sealed class DedicatedServerFixture : IAsyncLifetime
{
    public ThrowawayPostgreSqlServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        try
        {
            Server = await ThrowawayPostgreSqlServer.StartNewAsync();
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException(
                "The database outage test stops and starts a PostgreSQL server of its own, even when TEST_DATABASE_URL is set, and could not provision one: " + ex.Message,
                ex);
        }
    }

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public sealed class OutageTests(DedicatedServerFixture fixture, ITestOutputHelper output) : IClassFixture<DedicatedServerFixture>
{
    private static readonly TenantId Dropped = TenantId.Parse("dropped-during-outage");
    private static readonly TenantId Steady = TenantId.Parse("steady");

    [Fact]
    public async Task A_database_outage_turns_health_unhealthy_keeps_tenants_running_and_the_status_written_meanwhile_lands_afterwards()
    {
        var server = fixture.Server;
        string schema = PostgreSqlTestStore.NewSchema();
        var settings = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Timeout = 2, MaxPoolSize = 5 };
        var factory = new ControlledClientFactory();
        using var host = TestHosts.Build(services => services
            .AddWhatsAppTenants(o => o.HostId = "outage-host")
            .UseClientFactory(factory)
            .UsePostgreSql(settings.ConnectionString, o =>
            {
                o.Schema = schema;
                o.HealthCheckTimeout = TimeSpan.FromSeconds(2);
            }));
        await host.StartAsync();
        try
        {
            var coordinator = host.Services.GetRequiredService<ITenantCoordinator>();
            var health = host.Services.GetRequiredService<HealthCheckService>();
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            await coordinator.StartAsync(Dropped);
            await coordinator.StartAsync(Steady);
            await Eventually.UntilAsync(() => StoredStateAsync(settings, schema, Dropped), s => s == "connected", "the tenant is stored as connected");
            Assert.Equal(HealthStatus.Healthy, (await DatabaseComponentAsync(health)).Status);

            await server.StopAsync();
            output.WriteLine("server stopped");

            var down = await Eventually.UntilAsync(
                () => DatabaseComponentAsync(health), e => e.Status == HealthStatus.Unhealthy, "the database component is unhealthy");
            output.WriteLine($"unhealthy: {down.Description}");
            Assert.Null(down.Exception);
            Assert.DoesNotContain("Exception", down.Description, StringComparison.Ordinal);
            Assert.DoesNotContain("Npgsql", down.Description, StringComparison.Ordinal);
            Assert.Equal(5, down.Data["max"]);

            // During the outage a tenant loses its connection: its new status cannot be written now.
            factory.Drop(Dropped, "connection lost while the database was down");
            await Eventually.UntilAsync(
                async () => (await coordinator.GetStatusAsync(Dropped))!.State == TenantState.Disconnected, "the tenant is disconnected in memory");

            // The process stays up and the other tenant keeps running.
            Assert.False(lifetime.ApplicationStopping.IsCancellationRequested);
            Assert.Equal(TenantState.Connected, (await coordinator.GetStatusAsync(Steady))!.State);

            // The coordinator tried to write it and failed: the write is pending, to be retried.
            await Eventually.UntilAsync(
                () => host.Services.GetFakeLogCollector().GetSnapshot().Any(r => r.Id.Id == MultiTenantEventIds.StatusWriteFailed),
                "a status write failed during the outage");

            await server.StartAsync();
            output.WriteLine("server started again");

            var up = await Eventually.UntilAsync(
                () => DatabaseComponentAsync(health), e => e.Status == HealthStatus.Healthy, "the database component is healthy again");
            output.WriteLine($"healthy again, latency {up.Data["latency"]}");

            var stored = await Eventually.UntilAsync(
                () => StoredStatusAsync(settings, schema, Dropped),
                s => s is { State: "disconnected" },
                "the status written during the outage reaches the database");
            Assert.Equal("connection lost while the database was down", stored!.Value.Error);
            Assert.Equal(TenantState.Connected, (await coordinator.GetStatusAsync(Steady))!.State);

            // And the tenant recovers normally once its client reconnects.
            factory.AllowReconnects();
            await Eventually.UntilAsync(() => StoredStateAsync(settings, schema, Dropped), s => s == "connected", "the reconnected tenant is stored as connected");
        }
        finally
        {
            factory.AllowReconnects();
            await host.StopAsync();
        }
    }

    private static async Task<HealthReportEntry> DatabaseComponentAsync(HealthCheckService health)
    {
        var report = await health.CheckHealthAsync(r => r.Name == TenantHealthChecks.DatabaseCheckName);
        return report.Entries[TenantHealthChecks.DatabaseCheckName];
    }

    private static async Task<string?> StoredStateAsync(NpgsqlConnectionStringBuilder settings, string schema, TenantId tenant) =>
        (await StoredStatusAsync(settings, schema, tenant))?.State;

    private static async Task<(string State, string? Error)?> StoredStatusAsync(NpgsqlConnectionStringBuilder settings, string schema, TenantId tenant)
    {
        var observer = new NpgsqlConnectionStringBuilder(settings.ConnectionString) { Pooling = false, ApplicationName = "mt-test-observer" };
        await using var connection = new NpgsqlConnection(observer.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT state, error FROM \"{schema}\".tenant_status WHERE business_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = tenant.Value });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)) : null;
    }
}
