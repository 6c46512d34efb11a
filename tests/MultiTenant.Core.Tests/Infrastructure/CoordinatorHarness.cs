using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Hosting;
using MultiTenant.Storage;

namespace MultiTenant.Tests.Infrastructure;

/// <summary>
/// A <see cref="TenantCoordinator"/> wired to fakes: <see cref="TestTimeProvider"/>, <see cref="FakeClientFactory"/>, a
/// <see cref="FakeLogCollector"/>, its own <see cref="TenantMetrics"/> meter and a <see cref="StatusRecorder"/>.
/// Backoff jitter is fixed (<see cref="TenantCoordinator.NextRandom"/> returns <see cref="Random"/>, 0.5 by default).
/// </summary>
internal sealed class CoordinatorHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private bool _hostStopped;

    private CoordinatorHarness(
        TenantCoordinatorOptions options,
        IEnumerable<ITenantEventHandler> handlers,
        InMemoryTenantStore store,
        ITenantStatusStore? statusStore,
        ITenantRegistry? registry,
        TestTimeProvider time,
        Func<FakeClientFactory, ITenantClientFactory>? backend)
    {
        Options = options;
        Time = time;
        Store = store;
        Factory = new FakeClientFactory();
        Logs = new FakeLogCollector();
        Metrics = new TenantMetrics(meterFactory: null, options.MaxTenantMetricLabels);
        _services = new ServiceCollection().AddSingleton(backend?.Invoke(Factory) ?? Factory).BuildServiceProvider();
        Coordinator = new TenantCoordinator(
            Microsoft.Extensions.Options.Options.Create(options),
            registry ?? store,
            statusStore ?? store,
            store,
            handlers,
            Metrics,
            _services,
            time,
            new FakeLogger<TenantCoordinator>(Logs));
        Coordinator.NextRandom = () => Random;
        Coordinator.StatusObserver = Statuses.Record;
    }

    public TenantCoordinatorOptions Options { get; }

    public TestTimeProvider Time { get; }

    public InMemoryTenantStore Store { get; }

    public FakeClientFactory Factory { get; }

    public FakeLogCollector Logs { get; }

    public TenantMetrics Metrics { get; }

    public TenantCoordinator Coordinator { get; }

    public StatusRecorder Statuses { get; } = new();

    /// <summary>The jitter factor every backoff uses. Default 0.5.</summary>
    public double Random { get; set; } = 0.5;

    public static CoordinatorHarness Create(
        Action<TenantCoordinatorOptions>? configure = null,
        IEnumerable<ITenantEventHandler>? handlers = null,
        InMemoryTenantStore? store = null,
        ITenantStatusStore? statusStore = null,
        ITenantRegistry? registry = null,
        TestTimeProvider? time = null,
        Func<FakeClientFactory, ITenantClientFactory>? backend = null)
    {
        var options = new TenantCoordinatorOptions { HostId = "test-host" };
        configure?.Invoke(options);
        time ??= new TestTimeProvider();
        return new CoordinatorHarness(options, handlers ?? [], store ?? new InMemoryTenantStore(time), statusStore, registry, time, backend);
    }

    public static TenantId Id(string value) => TenantId.Parse(value);

    /// <summary>Starts the coordinator as the host would (resumes tenants, starts the status writer).</summary>
    public Task StartHostAsync() => ((IHostedService)Coordinator).StartAsync(CancellationToken.None).WithTimeout();

    /// <summary>Stops the coordinator as the host would (stops and drains every tenant, flushes statuses).</summary>
    public Task StopHostAsync()
    {
        _hostStopped = true;
        return ((IHostedService)Coordinator).StopAsync(CancellationToken.None).WithTimeout();
    }

    /// <summary>Starts <paramref name="tenant"/> and returns its new client (created by the factory on the tenant's loop).</summary>
    public async Task<FakeClient> StartAsync(TenantId tenant)
    {
        await Coordinator.StartAsync(tenant).WithTimeout();
        return await Factory.NextClientAsync(tenant);
    }

    /// <summary>Starts <paramref name="tenant"/>, lets its first connect succeed and waits until it is connected.</summary>
    public async Task<FakeClient> StartConnectedAsync(TenantId tenant)
    {
        var client = await StartAsync(tenant);
        (await client.NextConnectAsync()).Succeed();
        await Statuses.WaitForStateAsync(tenant, TenantState.Connected);
        return client;
    }

    public TenantState StateOf(TenantId tenant) => Coordinator.FindSupervisor(tenant)?.Status.State ?? TenantState.Stopped;

    public async ValueTask DisposeAsync()
    {
        Factory.ReleaseAll();
        if (!_hostStopped)
        {
            await StopHostAsync();
        }

        await Coordinator.DisposeAsync();
        Metrics.Dispose();
        await _services.DisposeAsync();
    }
}
