using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace MultiTenant.PostgreSql.Tests;

/// <summary>
/// 5,000 tenants started through the coordinator with an instant client, on the embedded store and on PostgreSQL in the same run:
/// the PostgreSQL host never holds more connections than its pool maximum (polled from pg_stat_activity and from the pool figures
/// while the tenants start). The times are printed, not asserted.
/// </summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class ScaleTests(PostgreSqlFixture fixture, ITestOutputHelper output)
{
    private const int TenantCount = 5000;
    private const int PoolMax = 10;
    private const int ConcurrentStarts = 64;
    private const string ApplicationName = "mt-scale";

    [Fact]
    public async Task Starting_five_thousand_tenants_on_PostgreSQL_never_opens_more_connections_than_the_pool_maximum()
    {
        var tenants = Enumerable.Range(0, TenantCount).Select(i => TenantId.Parse("tenant-" + i.ToString("D5", CultureInfo.InvariantCulture))).ToArray();

        // Embedded store.
        var embeddedFactory = new InstantClientFactory();
        using var embedded = TestHosts.Build(
            services => services.AddWhatsAppTenants(o => o.HostId = "embedded").UseClientFactory(embeddedFactory),
            minimumLevel: LogLevel.Warning);
        await embedded.StartAsync();
        var embeddedTime = await StartAllAsync(embedded, tenants);
        await embedded.StopAsync();

        // PostgreSQL store, pool of 10.
        string database = await fixture.GetDatabaseAsync(nameof(ScaleTests));
        var settings = new NpgsqlConnectionStringBuilder(database) { MaxPoolSize = PoolMax, ApplicationName = ApplicationName };
        string schema = PostgreSqlTestStore.NewSchema();
        var postgresFactory = new InstantClientFactory();
        using var postgres = TestHosts.Build(
            services => services.AddWhatsAppTenants(o => o.HostId = "postgres").UseClientFactory(postgresFactory)
                .UsePostgreSql(settings.ConnectionString, o => o.Schema = schema),
            minimumLevel: LogLevel.Warning);
        await postgres.StartAsync();

        var observer = new ConnectionObserver(
            new NpgsqlConnectionStringBuilder(database) { ApplicationName = "mt-test-observer", MaxPoolSize = 1 }.ConnectionString,
            settings.Database!,
            postgres.Services.GetRequiredService<ITenantStoreHealth>());
        var observing = observer.RunAsync();
        TimeSpan postgresTime;
        try
        {
            postgresTime = await StartAllAsync(postgres, tenants);
        }
        finally
        {
            await observer.StopAsync(observing);
        }

        output.WriteLine($"Starting {TenantCount} tenants (instant client, {ConcurrentStarts} concurrent starts) until all are connected and their statuses stored:");
        output.WriteLine($"  embedded store:   {embeddedTime.TotalMilliseconds:0} ms");
        output.WriteLine($"  PostgreSQL store: {postgresTime.TotalMilliseconds:0} ms (pool max {PoolMax})");
        output.WriteLine($"  peak connections of the host (pg_stat_activity): {observer.PeakServerConnections}; peak pool figures: {observer.PeakPoolOpen} open, {observer.PeakPoolAcquired} acquired; samples: {observer.Samples}");

        Assert.InRange(observer.PeakServerConnections, 1, PoolMax);
        Assert.InRange(observer.PeakPoolOpen, 1, PoolMax);
        Assert.True(observer.Samples > 1);

        var registry = postgres.Services.GetRequiredService<ITenantRegistry>();
        Assert.Equal(TenantCount, (await registry.ListDesiredRunningAsync(CancellationToken.None)).Count);
        Assert.Equal(TenantCount, postgresFactory.TotalCreated);
        await postgres.StopAsync();
    }

    /// <summary>Starts every tenant (64 at a time, like concurrent API calls) and waits until all are connected and stored as such.</summary>
    private static async Task<TimeSpan> StartAllAsync(IHost host, TenantId[] tenants)
    {
        var coordinator = host.Services.GetRequiredService<ITenantCoordinator>();
        var statuses = host.Services.GetRequiredService<ITenantStatusStore>();
        long start = Stopwatch.GetTimestamp();
        await Parallel.ForEachAsync(
            tenants,
            new ParallelOptions { MaxDegreeOfParallelism = ConcurrentStarts },
            async (tenant, ct) => await coordinator.StartAsync(tenant, ct));
        await Eventually.UntilAsync(() => coordinator.Counts.Connected == tenants.Length, "every tenant is connected", TimeSpan.FromSeconds(60));
        await Eventually.UntilAsync(
            async () => (await statuses.ListAsync(CancellationToken.None)).Count(s => s.State == TenantState.Connected) == tenants.Length,
            "every tenant is stored as connected",
            TimeSpan.FromSeconds(60));
        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>Polls pg_stat_activity (the host's connections, by application name) and the store's pool figures until stopped.</summary>
    private sealed class ConnectionObserver(string connectionString, string database, ITenantStoreHealth health)
    {
        private readonly CancellationTokenSource _stop = new();

        public int PeakServerConnections { get; private set; }

        public int PeakPoolOpen { get; private set; }

        public int PeakPoolAcquired { get; private set; }

        public int Samples { get; private set; }

        public async Task RunAsync()
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(
                "SELECT count(*)::int FROM pg_stat_activity WHERE datname = $1 AND application_name = $2", connection);
            command.Parameters.Add(new NpgsqlParameter { Value = database });
            command.Parameters.Add(new NpgsqlParameter { Value = ApplicationName });
            await command.PrepareAsync();
            while (!_stop.IsCancellationRequested)
            {
                int server = (int)(await command.ExecuteScalarAsync())!;
                var pool = health.PoolStatistics ?? default;
                PeakServerConnections = Math.Max(PeakServerConnections, server);
                PeakPoolOpen = Math.Max(PeakPoolOpen, pool.Acquired + pool.Idle);
                PeakPoolAcquired = Math.Max(PeakPoolAcquired, pool.Acquired);
                Samples++;
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(5), _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        public async Task StopAsync(Task running)
        {
            await _stop.CancelAsync();
            await running;
        }
    }
}
