using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Hosting;
using MultiTenant.Storage;

namespace MultiTenant.Benchmarks.Infrastructure;

/// <summary>
/// A client that is connected as soon as it is asked to be and stays healthy. One instance is shared by every tenant, so a
/// benchmark measures the library's per-tenant cost and nothing of the client's ("excluding the client").
/// </summary>
internal sealed class InstantClient : ITenantClient
{
    public static readonly InstantClient Instance = new();

    private static readonly Task<SendMessageResult> Sent = Task.FromResult(new SendMessageResult("bench"));

    public bool IsConnected => true;

    public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task DisconnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask<bool> CheckHealthAsync(CancellationToken cancellationToken) => ValueTask.FromResult(true);

    public Task<SendMessageResult> SendMessageAsync(OutboundMessage message, CancellationToken cancellationToken) => Sent;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Hands every tenant the shared <see cref="InstantClient"/>.</summary>
internal sealed class InstantClientFactory : ITenantClientFactory, IServiceProvider
{
    private static readonly ValueTask<ITenantClient> Client = ValueTask.FromResult<ITenantClient>(InstantClient.Instance);

    public ValueTask<ITenantClient> CreateClientAsync(TenantClientContext context, CancellationToken cancellationToken) => Client;

    // The coordinator resolves its client factory from the service provider; this is all the provider it needs.
    public object? GetService(Type serviceType) => serviceType == typeof(ITenantClientFactory) ? this : null;
}

/// <summary>Counts the tenants whose <see cref="TenantConnectedEvent"/> went through their handlers, and signals when all did.</summary>
internal sealed class ConnectedCounter : ITenantEventHandler
{
    private int _remaining;
    private TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task AllConnected => _all.Task;

    public void Expect(int tenants)
    {
        _all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _remaining, tenants);
    }

    public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
    {
        if (tenantEvent is TenantConnectedEvent && Interlocked.Decrement(ref _remaining) == 0)
        {
            _all.TrySetResult();
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A real <see cref="TenantCoordinator"/> on the embedded store, with instant clients, no logging and no metrics listener: what
/// <c>services.AddWhatsAppTenants()</c> builds, without the DI container.
/// </summary>
internal sealed class CoordinatorFixture : IAsyncDisposable
{
    private CoordinatorFixture(TenantCoordinator coordinator, InMemoryTenantStore store, TenantMetrics metrics, ConnectedCounter counter)
    {
        Coordinator = coordinator;
        Store = store;
        Metrics = metrics;
        Counter = counter;
    }

    public TenantCoordinator Coordinator { get; }

    public InMemoryTenantStore Store { get; }

    public TenantMetrics Metrics { get; }

    public ConnectedCounter Counter { get; }

    public static async Task<CoordinatorFixture> StartAsync()
    {
        // The connect pace (MaxConnectsPerSecond, default 1,000/s) is measured by scenario 6; scenarios 3 and 4 measure what the
        // coordinator itself costs, so they lift it (with the default, 10,000 instant connects take at least 9 s by design).
        var options = new TenantCoordinatorOptions { HostId = "bench", MaxConnectsPerSecond = 100_000 };
        var store = new InMemoryTenantStore();
        var metrics = new TenantMetrics(null, options.MaxTenantMetricLabels);
        var counter = new ConnectedCounter();
        var coordinator = new TenantCoordinator(
            Options.Create(options),
            store,
            store,
            store,
            [counter],
            metrics,
            new InstantClientFactory(),
            TimeProvider.System,
            NullLogger<TenantCoordinator>.Instance,
            lifetime: null,
            storeHealth: store);
        await ((Microsoft.Extensions.Hosting.IHostedService)coordinator).StartAsync(CancellationToken.None);
        return new CoordinatorFixture(coordinator, store, metrics, counter);
    }

    /// <summary>Starts every tenant and waits until each is connected and its connected event was handled.</summary>
    public async Task StartAndWaitConnectedAsync(TenantId[] tenants)
    {
        Counter.Expect(tenants.Length);
        for (int i = 0; i < tenants.Length; i++)
        {
            await Coordinator.StartAsync(tenants[i]);
        }

        await Counter.AllConnected.WaitAsync(TimeSpan.FromMinutes(2));
        int connected = Coordinator.Counts.Connected;
        if (connected != tenants.Length)
        {
            throw new InvalidOperationException($"{connected} of {tenants.Length} tenants are connected after their connected events were handled.");
        }
    }

    /// <summary>Waits until the background status writer has stored every tenant's connected status (it batches asynchronously).</summary>
    public async Task WaitStatusesStoredAsync(TenantId[] tenants)
    {
        var deadline = TimeProvider.System.GetTimestamp() + TimeProvider.System.TimestampFrequency * 60;
        for (int i = 0; i < tenants.Length; i++)
        {
            while ((await Store.GetAsync(tenants[i], CancellationToken.None))?.State != TenantState.Connected)
            {
                if (TimeProvider.System.GetTimestamp() > deadline)
                {
                    throw new TimeoutException("The status writer did not store every connected status within 60 s.");
                }

                await Task.Delay(5);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ((Microsoft.Extensions.Hosting.IHostedService)Coordinator).StopAsync(CancellationToken.None);
        await Coordinator.DisposeAsync();
        Metrics.Dispose();
    }
}

internal static class Tenants
{
    /// <summary><paramref name="count"/> valid business ids: <c>tenant-00000</c>, <c>tenant-00001</c>, ...</summary>
    public static TenantId[] Create(int count)
    {
        var tenants = new TenantId[count];
        for (int i = 0; i < count; i++)
        {
            tenants[i] = TenantId.Parse("tenant-" + i.ToString("D5", System.Globalization.CultureInfo.InvariantCulture));
        }

        return tenants;
    }
}
