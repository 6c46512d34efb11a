using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Hosting;
using MultiTenant.Storage;
using MultiTenant.Tests.Infrastructure;
using NSubstitute;

namespace MultiTenant.Tests.Hosting;

public sealed class DependencyInjectionTests
{
    [Fact]
    public async Task Calling_AddWhatsAppTenants_twice_registers_one_hosted_service_and_one_coordinator()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddWhatsAppTenants();
        services.AddWhatsAppTenants(o => o.HostId = "h1").UseClientFactory(new FakeClientFactory());

        Assert.Single(services, static d => d.ServiceType == typeof(TenantCoordinator));
        Assert.Single(services, static d => d.ServiceType == typeof(ITenantCoordinator));
        Assert.Single(services, static d => d.ServiceType == typeof(ITenantClientFactory));
        await using var provider = services.BuildServiceProvider();
        var coordinator = provider.GetRequiredService<TenantCoordinator>();
        Assert.Same(coordinator, Assert.Single(provider.GetServices<IHostedService>().OfType<TenantCoordinator>()));
        Assert.Equal(provider.GetServices<IHostedService>().Count(), provider.GetServices<IHostedService>().Distinct().Count());
        Assert.Same(coordinator, provider.GetRequiredService<ITenantCoordinator>());
        Assert.Equal("h1", coordinator.HostId);
        var checks = provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;
        Assert.Equal(
            [TenantHealthChecks.DatabaseCheckName, TenantHealthChecks.LivenessCheckName, TenantHealthChecks.ReadinessCheckName],
            checks.Select(static r => r.Name).Order());
        Assert.IsType<InMemoryTenantStore>(provider.GetRequiredService<ITenantRegistry>());
        Assert.Same(provider.GetRequiredService<ITenantRegistry>(), provider.GetRequiredService<ITenantStatusStore>());
    }

    [Fact]
    public void Options_bind_from_the_WhatsAppTenants_configuration_section()
    {
        using var host = BuildHost(new Dictionary<string, string?>
        {
            ["WhatsAppTenants:HostId"] = "host-7",
            ["WhatsAppTenants:HealthCheckInterval"] = "00:00:05",
            ["WhatsAppTenants:ReconnectBaseDelay"] = "00:00:02",
            ["WhatsAppTenants:ReconnectMaxDelay"] = "00:10:00",
            ["WhatsAppTenants:StableConnectionPeriod"] = "00:02:00",
            ["WhatsAppTenants:MaxConcurrentConnects"] = "7",
            ["WhatsAppTenants:EventQueueCapacity"] = "64",
            ["WhatsAppTenants:EventQueueFullMode"] = "DropOldest",
            ["WhatsAppTenants:ConnectTimeout"] = "00:01:00",
            ["WhatsAppTenants:MaxTenantMetricLabels"] = "10",
            ["WhatsAppTenants:ResumeTenantsOnStart"] = "false",
        });

        var options = host.Services.GetRequiredService<IOptions<TenantCoordinatorOptions>>().Value;

        Assert.Equal("host-7", options.HostId);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HealthCheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReconnectBaseDelay);
        Assert.Equal(TimeSpan.FromMinutes(10), options.ReconnectMaxDelay);
        Assert.Equal(TimeSpan.FromMinutes(2), options.StableConnectionPeriod);
        Assert.Equal(7, options.MaxConcurrentConnects);
        Assert.Equal(64, options.EventQueueCapacity);
        Assert.Equal(EventQueueFullMode.DropOldest, options.EventQueueFullMode);
        Assert.Equal(TimeSpan.FromMinutes(1), options.ConnectTimeout);
        Assert.Equal(10, options.MaxTenantMetricLabels);
        Assert.False(options.ResumeTenantsOnStart);
        Assert.Equal("host-7", host.Services.GetRequiredService<ITenantCoordinator>().HostId);
    }

    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        var options = new TenantCoordinatorOptions();

        Assert.Equal(Environment.MachineName, options.HostId);
        Assert.Equal(TimeSpan.FromSeconds(10), options.HealthCheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(1), options.ReconnectBaseDelay);
        Assert.Equal(TimeSpan.FromMinutes(5), options.ReconnectMaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(60), options.StableConnectionPeriod);
        Assert.Equal(1000, options.MaxConcurrentConnects);
        Assert.Equal(1000, options.MaxConnectsPerSecond);
        Assert.Equal(1024, options.EventQueueCapacity);
        Assert.Equal(EventQueueFullMode.Wait, options.EventQueueFullMode);
        Assert.Equal(TimeSpan.FromSeconds(30), options.ConnectTimeout);
        Assert.Equal(1000, options.MaxTenantMetricLabels);
        Assert.True(options.ResumeTenantsOnStart);
        Assert.Equal("WhatsAppTenants", TenantCoordinatorOptions.SectionName);
    }

    [Fact]
    public void Code_configuration_wins_over_the_configuration_section()
    {
        using var host = BuildHost(
            new Dictionary<string, string?> { ["WhatsAppTenants:MaxConcurrentConnects"] = "5", ["WhatsAppTenants:HostId"] = "from-config" },
            services => services.AddWhatsAppTenants(o => o.MaxConcurrentConnects = 7));

        var options = host.Services.GetRequiredService<IOptions<TenantCoordinatorOptions>>().Value;

        Assert.Equal(7, options.MaxConcurrentConnects); // "configures its options after configuration binding"
        Assert.Equal("from-config", options.HostId);
    }

    [Fact]
    public void Builder_Configure_wins_over_the_configuration_section()
    {
        using var host = BuildHost(
            new Dictionary<string, string?> { ["WhatsAppTenants:EventQueueCapacity"] = "5" },
            services => services.AddWhatsAppTenants().Configure(o => o.EventQueueCapacity = 9));

        Assert.Equal(9, host.Services.GetRequiredService<IOptions<TenantCoordinatorOptions>>().Value.EventQueueCapacity);
    }

    [Theory]
    [InlineData("MaxConcurrentConnects", "0")]
    [InlineData("MaxConcurrentConnects", "10001")]
    [InlineData("MaxConnectsPerSecond", "0")]
    [InlineData("MaxConnectsPerSecond", "100001")]
    [InlineData("EventQueueCapacity", "0")]
    [InlineData("MaxTenantMetricLabels", "-1")]
    [InlineData("HealthCheckInterval", "00:00:00.010")]
    [InlineData("HealthCheckInterval", "02:00:00")]
    [InlineData("ReconnectBaseDelay", "00:00:00")]
    [InlineData("ReconnectMaxDelay", "1.00:00:00")]
    [InlineData("StableConnectionPeriod", "-00:00:01")]
    [InlineData("ConnectTimeout", "00:00:00.050")]
    [InlineData("HostId", "")]
    public async Task Invalid_options_fail_the_host_start_naming_the_option(string option, string value)
    {
        using var host = BuildHost(new Dictionary<string, string?> { ["WhatsAppTenants:" + option] = value });

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains(option, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cap_below_the_base_delay_fails_the_host_start()
    {
        using var host = BuildHost(new Dictionary<string, string?>
        {
            ["WhatsAppTenants:ReconnectBaseDelay"] = "00:00:30",
            ["WhatsAppTenants:ReconnectMaxDelay"] = "00:00:10",
        });

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains("ReconnectMaxDelay", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ReconnectBaseDelay", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_client_factory_fails_the_host_start_with_a_clear_message()
    {
        using var host = BuildHost(configure: static services => services.AddWhatsAppTenants(), addFactory: false);

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().WithTimeout());

        Assert.Contains(nameof(ITenantClientFactory), ex.Message, StringComparison.Ordinal);
        Assert.Contains("UseClientFactory", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Adding_an_event_handler_type_twice_adds_it_once()
    {
        var services = new ServiceCollection();
        services.AddWhatsAppTenants().AddEventHandler<CountingHandler>().AddEventHandler<CountingHandler>().UseClientFactory<FakeClientFactory>();
        services.AddWhatsAppTenants().AddEventHandler<CountingHandler>();

        Assert.Single(services, static d => d.ServiceType == typeof(ITenantEventHandler));
        await using var provider = services.BuildServiceProvider();
        Assert.Single(provider.GetRequiredService<TenantCoordinator>().Handlers);
    }

    [Fact]
    public async Task A_host_run_with_the_coordinator_shuts_down_and_disposes_without_an_error()
    {
        var host = BuildHost();
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        var coordinator = host.Services.GetRequiredService<ITenantCoordinator>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        var running = host.RunAsync(); // what Program.Main does; it disposes the host when it ends
        await started.Task.WithTimeout();

        lifetime.StopApplication(); // as SIGTERM does

        await running.WithTimeout(); // the container disposed the coordinator once per registration that resolved it
        Assert.True(coordinator.IsStopping);
    }

    [Fact]
    public void UseClientFactory_replaces_the_factory_set_before()
    {
        var first = new FakeClientFactory();
        var second = new FakeClientFactory();
        var services = new ServiceCollection();
        services.AddWhatsAppTenants().UseClientFactory(first).UseClientFactory(second);

        using var provider = services.BuildServiceProvider();

        Assert.Same(second, provider.GetRequiredService<ITenantClientFactory>());
    }

    [Fact]
    public void A_store_registered_before_replaces_the_embedded_one()
    {
        var registry = Substitute.For<ITenantRegistry>();
        var services = new ServiceCollection();
        services.AddSingleton(registry);
        services.AddWhatsAppTenants();

        using var provider = services.BuildServiceProvider();

        Assert.Same(registry, provider.GetRequiredService<ITenantRegistry>());
        Assert.IsType<InMemoryTenantStore>(provider.GetRequiredService<ITenantStatusStore>());
    }

    [Fact]
    public async Task A_real_host_runs_tenants_and_routes_their_events_to_the_registered_handlers()
    {
        var factory = new FakeClientFactory { AutoConnect = true };
        var handler = new RecordingHandler();
        using var host = BuildHost(configure: services => services.AddWhatsAppTenants(o => o.HostId = "real").UseClientFactory(factory).AddEventHandler(handler), addFactory: false);
        await host.StartAsync().WithTimeout();
        var coordinator = host.Services.GetRequiredService<ITenantCoordinator>();
        var t = TenantId.Parse("tenant1");

        await coordinator.StartAsync(t).WithTimeout();
        var client = await factory.NextClientAsync(t);
        await handler.WaitForCountAsync(t, 1);
        await client.Context.Events.DeliverAsync(new MessageEvent { Text = "hello" }).AsTask().WithTimeout();
        await host.StopAsync().WithTimeout();

        Assert.IsType<TenantConnectedEvent>(handler.Events(t)[0]);
        Assert.Equal("hello", Assert.IsType<MessageEvent>(handler.Events(t)[1]).Text);
        Assert.True(client.IsDisposed);
        var status = await coordinator.GetStatusAsync(t).WithTimeout();
        Assert.Equal(TenantState.Stopped, status!.State);
        Assert.Equal("real", status.Host);
    }

    private static IHost BuildHost(
        Dictionary<string, string?>? configuration = null,
        Action<IServiceCollection>? configure = null,
        bool addFactory = true)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(configuration ?? []);
        if (configure is null)
        {
            builder.Services.AddWhatsAppTenants();
        }
        else
        {
            configure(builder.Services);
        }

        if (addFactory)
        {
            builder.Services.AddWhatsAppTenants().UseClientFactory(new FakeClientFactory());
        }

        return builder.Build();
    }

    private sealed class CountingHandler : ITenantEventHandler
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return ValueTask.CompletedTask;
        }
    }
}
