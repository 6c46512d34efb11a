using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MultiTenant.Diagnostics;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Fleet;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using MultiTenant.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace MultiTenant.PostgreSql.Tests;

[Collection(PostgreSqlCollection.Name)]
public sealed class RegistrationTests(PostgreSqlFixture fixture, ITestOutputHelper output)
{
    private const string Secret = "Hunter2-NeverPrintMe";

    private Task<string> DatabaseAsync() => fixture.GetDatabaseAsync(nameof(RegistrationTests));

    [Fact]
    public async Task UsePostgreSql_replaces_the_embedded_store_even_when_AddWhatsAppTenants_is_called_again_and_runs_in_fleet_mode()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory()).UsePostgreSql("postgres://u:pw@127.0.0.1:5432/db");
        services.AddWhatsAppTenants();
        await using var provider = services.BuildServiceProvider();

        var store = provider.GetRequiredService<PostgreSqlTenantStore>();
        Assert.Same(store, provider.GetRequiredService<ITenantRegistry>());
        Assert.Same(store, provider.GetRequiredService<ITenantStateStoreProvider>());

        // One runner per tenant: placement is the fleet's, and status writes are fenced by the lease epochs.
        Assert.IsType<FencedStatusStore>(provider.GetRequiredService<ITenantStatusStore>());
        Assert.Same(provider.GetRequiredService<FleetMember>(), provider.GetRequiredService<ITenantPlacement>());
        Assert.Single(provider.GetServices<ITenantPlacement>());
        Assert.Same(store, provider.GetRequiredService<ITenantStoreHealth>());
        Assert.Single(provider.GetServices<ITenantRegistry>());
        Assert.Single(provider.GetServices<IHostedService>().OfType<PostgreSqlStoreInitializer>());
        Assert.Equal("postgresql", provider.GetRequiredService<ITenantStoreHealth>().Backend);
        Assert.IsType<PostgreSqlTenantIdempotencyStore>(Assert.Single(provider.GetServices<MultiTenant.Idempotency.ITenantIdempotencyStore>()));
    }

    [Fact]
    public async Task The_latest_url_wins_and_one_data_source_is_registered()
    {
        var services = new ServiceCollection();
        services.AddWhatsAppTenants()
            .UsePostgreSql("postgres://u:pw@first-host/db")
            .UsePostgreSql("postgres://u:pw@second-host/db?pool_max_conns=3");
        await using var provider = services.BuildServiceProvider();

        var dataSource = Assert.Single(provider.GetServices<NpgsqlDataSource>());
        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        Assert.Equal("second-host", settings.Host);
        Assert.Equal(3, settings.MaxPoolSize);
        Assert.DoesNotContain("pw", dataSource.ConnectionString, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_data_source_the_host_registers_is_the_one_used_and_a_warning_says_so(bool registeredFirst)
    {
        string database = await DatabaseAsync();
        await using var hostDataSource = NpgsqlDataSource.Create(database);
        using var host = TestHosts.Build(services =>
        {
            if (registeredFirst)
            {
                services.AddSingleton(hostDataSource);
            }

            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory())
                .UsePostgreSql($"postgres://u:{Secret}@127.0.0.1:1/nowhere", o => o.Schema = PostgreSqlTestStore.NewSchema());
            if (!registeredFirst)
            {
                services.AddSingleton(hostDataSource);
            }
        });

        await host.StartAsync();
        try
        {
            Assert.Same(hostDataSource, host.Services.GetRequiredService<PostgreSqlTenantStore>().DataSource);
            Assert.Contains("registered by the host is used", host.AllLogText(), StringComparison.Ordinal);
            Assert.DoesNotContain(Secret, host.AllLogText(), StringComparison.Ordinal);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task UsePostgreSql_without_a_url_uses_the_data_source_from_the_services()
    {
        string database = await DatabaseAsync();
        await using var hostDataSource = NpgsqlDataSource.Create(database);
        string schema = PostgreSqlTestStore.NewSchema();
        using var host = TestHosts.Build(services =>
        {
            services.AddSingleton(hostDataSource);
            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory()).UsePostgreSql(o => o.Schema = schema);
        });

        await host.StartAsync();
        try
        {
            var registry = host.Services.GetRequiredService<ITenantRegistry>();
            await registry.SetDesiredStateAsync(TenantId.Parse("t1"), true, CancellationToken.None);
            Assert.Equal([TenantId.Parse("t1")], await registry.ListDesiredRunningAsync(CancellationToken.None));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task UsePostgreSql_without_a_url_and_without_a_data_source_fails_start_up_with_a_helpful_message()
    {
        using var host = TestHosts.Build(services =>
            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory()).UsePostgreSql());

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("none is registered", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_url_fails_at_once_with_a_typed_error_that_does_not_contain_the_password()
    {
        var services = new ServiceCollection();
        var tenants = services.AddWhatsAppTenants();

        var ex = Assert.Throws<InvalidDatabaseUrlException>(() => tenants.UsePostgreSql($"postgres://u:{Secret}@h:notaport/db"));
        output.WriteLine(ex.Message);

        Assert.Contains("port", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_fails_start_up_with_a_clear_message_that_does_not_contain_the_password()
    {
        int port = UnusedPort();
        var factory = new InstantClientFactory();
        using var host = TestHosts.Build(services =>
            services.AddWhatsAppTenants().UseClientFactory(factory)
                .UsePostgreSql($"postgres://app:{Secret}@127.0.0.1:{port}/tenants?connect_timeout=3"));

        var ex = await Assert.ThrowsAsync<PostgreSqlStoreStartupException>(() => host.StartAsync());
        output.WriteLine(ex.Message);

        Assert.Contains("could not be reached", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"host 127.0.0.1, port {port}, database 'tenants', user 'app'", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, ex.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, host.AllLogText(), StringComparison.Ordinal);
        Assert.Equal(0, factory.TotalCreated);
    }

    [Fact]
    public async Task A_server_that_refuses_the_login_fails_start_up_with_the_servers_reason()
    {
        var settings = new NpgsqlConnectionStringBuilder(await DatabaseAsync()) { Database = "no_such_database_" + Guid.NewGuid().ToString("N")[..6] };
        using var host = TestHosts.Build(services =>
            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory()).UsePostgreSql(settings.ConnectionString));

        var ex = await Assert.ThrowsAsync<PostgreSqlStoreStartupException>(() => host.StartAsync());

        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
        Assert.Contains(settings.Database!, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_store_options_fail_start_up()
    {
        using var host = TestHosts.Build(services =>
            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory())
                .UsePostgreSql("postgres://u:pw@127.0.0.1:1/db", o =>
                {
                    o.Schema = "Not-An-Identifier";
                    o.CommandTimeout = TimeSpan.Zero;
                }));

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("WhatsAppTenants:PostgreSql:Schema", ex.Message, StringComparison.Ordinal);
        Assert.Contains("WhatsAppTenants:PostgreSql:CommandTimeout", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Options_bind_from_configuration_and_code_has_the_last_word()
    {
        using var host = TestHosts.Build(
            services => services.AddWhatsAppTenants().UsePostgreSql("postgres://u:pw@h/db", o => o.CommandTimeout = TimeSpan.FromSeconds(42)),
            new Dictionary<string, string?>
            {
                ["WhatsAppTenants:PostgreSql:Schema"] = "from_config",
                ["WhatsAppTenants:PostgreSql:EnableRowLevelSecurity"] = "true",
                ["WhatsAppTenants:PostgreSql:CommandTimeout"] = "00:00:05",
            });

        var options = host.Services.GetRequiredService<IOptions<PostgreSqlStoreOptions>>().Value;

        Assert.Equal("from_config", options.Schema);
        Assert.True(options.EnableRowLevelSecurity);
        Assert.Equal(TimeSpan.FromSeconds(42), options.CommandTimeout);
    }

    [Fact]
    public void The_defaults_are_the_documented_ones()
    {
        var options = new PostgreSqlStoreOptions();

        Assert.Equal("multitenant", options.Schema);
        Assert.False(options.EnableRowLevelSecurity);
        Assert.True(options.ApplyMigrationsOnStart);
        Assert.Equal(TimeSpan.FromSeconds(30), options.CommandTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HealthCheckTimeout);
        Assert.Null(options.DataSourceName);
    }

    [Fact]
    public async Task Without_migrations_on_start_an_unmigrated_schema_fails_start_up()
    {
        string database = await DatabaseAsync();
        using var host = TestHosts.Build(services =>
            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory())
                .UsePostgreSql(database, o =>
                {
                    o.Schema = PostgreSqlTestStore.NewSchema();
                    o.ApplyMigrationsOnStart = false;
                }));

        var ex = await Assert.ThrowsAsync<PostgreSqlStoreStartupException>(() => host.StartAsync());

        Assert.Contains("is at version 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_migrations_on_start_a_migrated_schema_starts()
    {
        string database = await DatabaseAsync();
        string schema = PostgreSqlTestStore.NewSchema();
        await using (var migrator = PostgreSqlTestStore.Open(database, schema))
        {
            await migrator.Store.MigrateAsync();
        }

        using var host = TestHosts.Build(services =>
            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory())
                .UsePostgreSql(database, o =>
                {
                    o.Schema = schema;
                    o.ApplyMigrationsOnStart = false;
                }));

        await host.StartAsync();
        await host.StopAsync();
    }

    [Fact]
    public async Task The_database_health_component_reports_latency_and_the_pool_figures()
    {
        var settings = new NpgsqlConnectionStringBuilder(await DatabaseAsync()) { MaxPoolSize = 7 };
        using var host = TestHosts.Build(services =>
            services.AddWhatsAppTenants().UseClientFactory(new InstantClientFactory())
                .UsePostgreSql(settings.ConnectionString, o => o.Schema = PostgreSqlTestStore.NewSchema()));
        await host.StartAsync();
        try
        {
            var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(
                r => r.Tags.Contains(TenantHealthChecks.HealthTag));

            var database = report.Entries[TenantHealthChecks.DatabaseCheckName];
            Assert.Equal(HealthStatus.Healthy, database.Status);
            Assert.Equal("postgresql", database.Data["backend"]);
            Assert.Matches("^[0-9]+(ms|µs)$", (string)database.Data["latency"]);
            Assert.Equal(7, database.Data["max"]);
            Assert.InRange((int)database.Data["acquired"], 0, 7);
            Assert.InRange((int)database.Data["idle"], 1, 7); // the probe's connection went back to the pool
            Assert.Null(database.Exception);

            var pool = host.Services.GetRequiredService<ITenantStoreHealth>().PoolStatistics;
            Assert.NotNull(pool);
            Assert.Equal(7, pool.Value.Max);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
