using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;
using MultiTenant.Wuzapi.Tests.Infrastructure;

namespace MultiTenant.Wuzapi.Tests;

/// <summary>An engine that goes away and comes back, on a fake clock: the health check notices, reconnects back off, the session resumes.</summary>
public sealed class ReconnectTests : IAsyncLifetime
{
    private static readonly TimeSpan HealthCheckInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReconnectBaseDelay = TimeSpan.FromSeconds(3);

    private FakeWuzapiEngine _engine = null!;

    public async Task InitializeAsync()
    {
        _engine = await FakeWuzapiEngine.StartAsync();
        _engine.PairNewUsers = true;
    }

    public async Task DisposeAsync() => await _engine.DisposeAsync();

    [Fact]
    public async Task An_engine_restart_is_noticed_by_the_health_check_and_the_tenant_reconnects_with_backoff_to_its_kept_session()
    {
        var time = new SignallingTimeProvider();
        await using var host = await WuzapiTestHost.StartAsync(_engine, time: time, coordinator: o =>
        {
            o.HealthCheckInterval = HealthCheckInterval;
            o.ReconnectBaseDelay = ReconnectBaseDelay;
        });
        var tenant = TenantId.Parse("restarts");
        await host.Coordinator.StartAsync(tenant);
        await host.Events.WaitForAsync<TenantConnectedEvent>(tenant);

        await _engine.StopAsync();
        await time.WaitForTimerAsync(due => due == HealthCheckInterval);
        time.Advance(HealthCheckInterval);
        await host.Events.WaitForAsync<TenantDisconnectedEvent>(tenant);
        var backoff = await time.WaitForTimerAsync(due => due > TimeSpan.Zero && due <= ReconnectBaseDelay);

        // Backing off: disconnected with the engine's reason, and no attempt reaches the engine until the delay has passed.
        var waiting = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Disconnected, waiting!.State);
        Assert.Contains("could not be reached", waiting.Error, StringComparison.Ordinal);
        await _engine.RestartAsync();
        int requests = _engine.Requests.Count;
        Assert.Equal(requests, _engine.Requests.Count);

        time.Advance(backoff);
        await host.Events.WaitForAsync<TenantConnectedEvent>(tenant, 2);

        Assert.Equal(TenantState.Connected, (await host.Coordinator.GetStatusAsync(tenant))!.State);
        Assert.Equal(1, _engine.Count("POST", "/admin/users")); // the same engine user
        Assert.Equal(2, _engine.Count("POST", "/session/connect")); // its device was kept: no QR code
        Assert.Equal(0, _engine.Count("GET", "/session/qr"));
    }
}
