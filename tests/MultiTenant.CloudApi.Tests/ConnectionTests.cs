using System.Net;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Tests.Infrastructure;
using MultiTenant.Events;

namespace MultiTenant.CloudApi.Tests;

/// <summary>Connect and health probe against the fake Graph API: connected, revoked, throttled, blocked.</summary>
public sealed class ConnectionTests : IAsyncLifetime
{
    private const string Phone = "106540352242922";
    private const string Token = "EAAGtoken-tenant-a-0001";
    private static readonly TimeSpan HealthCheckInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ReconnectBaseDelay = TimeSpan.FromSeconds(1);

    private FakeGraphApi _graph = null!;

    public async Task InitializeAsync() => _graph = await FakeGraphApi.StartAsync();

    public async Task DisposeAsync() => await _graph.DisposeAsync();

    [Fact]
    public async Task Tenant_with_credentials_connects_after_a_successful_health_probe()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);

        await host.StartConnectedAsync(tenant);

        var status = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Connected, status!.State);
        var probe = Assert.Single(_graph.Probes);
        Assert.Equal("/v21.0/" + Phone, probe.Path);
        Assert.Equal("?fields=health_status,display_phone_number,quality_rating", probe.Query);
        Assert.Equal("Bearer " + Token, probe.Authorization);
    }

    [Fact]
    public async Task Tenant_without_credentials_goes_to_error_with_a_clear_reason()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = TenantId.Parse("no-credentials");

        await host.Coordinator.StartAsync(tenant);
        await host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        var status = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Error, status!.State);
        Assert.Contains("No Cloud API credentials", status.Error, StringComparison.Ordinal);
        Assert.Equal(TenantFatalReason.NotPaired, host.Events.Of<TenantFaultedEvent>(tenant).Single().Reason);
        Assert.Empty(_graph.Requests);
    }

    [Fact]
    public async Task Revoked_token_moves_a_connected_tenant_to_error_with_the_reason_and_no_further_connect_attempts()
    {
        var time = new SignallingTimeProvider();
        await using var host = await CloudApiTestHost.StartAsync(_graph, time: time, coordinator: o => o.HealthCheckInterval = HealthCheckInterval);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        await host.StartConnectedAsync(tenant);

        _graph.Revoke(Token);
        await time.WaitForTimerAsync(due => due == HealthCheckInterval); // the supervisor waits for its next health check
        time.Advance(HealthCheckInterval);
        await host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        var status = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Error, status!.State);
        Assert.Contains("access token was rejected", status.Error, StringComparison.Ordinal);
        Assert.Contains("Graph error 190", status.Error, StringComparison.Ordinal);
        Assert.Equal(TenantFatalReason.CredentialsRevoked, host.Events.Of<TenantFaultedEvent>(tenant).Single().Reason);
        Assert.Equal(2, _graph.Probes.Count); // the connect and the health check

        // No retry: however much time passes, nothing probes again and the tenant stays in error.
        for (int i = 0; i < 60; i++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(2, _graph.Probes.Count);
        Assert.Equal(TenantState.Error, (await host.Coordinator.GetStatusAsync(tenant))!.State);
        Assert.Empty(host.Events.Of<TenantConnectedEvent>(tenant).Skip(1));
    }

    [Fact]
    public async Task Token_revoked_before_start_fails_the_first_connect_without_retrying()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        _graph.Revoke(Token);

        await host.Coordinator.StartAsync(tenant);
        await host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        var status = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Error, status!.State);
        Assert.Contains("190", status.Error, StringComparison.Ordinal);
        Assert.Single(_graph.Probes);
        Assert.Empty(host.Events.Of<TenantConnectedEvent>(tenant));
    }

    [Fact]
    public async Task Throttled_connect_backs_off_then_connects()
    {
        var time = new SignallingTimeProvider();
        await using var host = await CloudApiTestHost.StartAsync(_graph, time: time, coordinator: o => o.ReconnectBaseDelay = ReconnectBaseDelay);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        _graph.FailProbes(2, 80007);

        await host.Coordinator.StartAsync(tenant);
        await _graph.WaitForProbesAsync(2); // the first attempt and the immediate retry
        var backoff = await time.WaitForTimerAsync(due => due > TimeSpan.Zero && due <= ReconnectBaseDelay);

        // Backing off: disconnected with the Graph reason, and no further attempt until the delay has passed.
        var waiting = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Disconnected, waiting!.State);
        Assert.Contains("80007", waiting.Error, StringComparison.Ordinal);
        Assert.Equal(2, _graph.Probes.Count);

        time.Advance(backoff);
        await host.Events.WaitForAsync<TenantConnectedEvent>(tenant);

        Assert.Equal(TenantState.Connected, (await host.Coordinator.GetStatusAsync(tenant))!.State);
        Assert.Equal(3, _graph.Probes.Count);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(130429)]
    [InlineData(131000)]
    public async Task Transient_graph_errors_at_connect_are_retried(int code)
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        _graph.FailProbes(1, code, code == 131000 ? HttpStatusCode.InternalServerError : HttpStatusCode.BadRequest);

        await host.StartConnectedAsync(tenant); // the first retry is immediate

        Assert.Equal(2, _graph.Probes.Count);
        Assert.Empty(host.Events.Of<TenantFaultedEvent>(tenant));
    }

    [Fact]
    public async Task Number_that_cannot_send_stays_disconnected_until_health_status_allows_sending()
    {
        var time = new SignallingTimeProvider();
        await using var host = await CloudApiTestHost.StartAsync(_graph, time: time, coordinator: o => o.ReconnectBaseDelay = ReconnectBaseDelay);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        _graph.CanSendMessage = "BLOCKED";

        await host.Coordinator.StartAsync(tenant);
        await _graph.WaitForProbesAsync(2);
        var backoff = await time.WaitForTimerAsync(due => due > TimeSpan.Zero && due <= ReconnectBaseDelay);

        var blocked = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Disconnected, blocked!.State);
        Assert.Contains("health_status BLOCKED", blocked.Error, StringComparison.Ordinal);
        Assert.Contains("payment method", blocked.Error, StringComparison.Ordinal);

        _graph.CanSendMessage = "AVAILABLE";
        time.Advance(backoff);
        await host.Events.WaitForAsync<TenantConnectedEvent>(tenant);
        Assert.Equal(TenantState.Connected, (await host.Coordinator.GetStatusAsync(tenant))!.State);
    }

    [Fact]
    public async Task Unknown_phone_number_id_is_fatal()
    {
        await using var host = await CloudApiTestHost.StartAsync(_graph);
        var tenant = await host.AddTenantAsync(_graph, "tenant-a", Phone, Token);
        _graph.FailProbes(1, 100, HttpStatusCode.BadRequest, subcode: 33);

        await host.Coordinator.StartAsync(tenant);
        await host.Events.WaitForAsync<TenantFaultedEvent>(tenant);

        var status = await host.Coordinator.GetStatusAsync(tenant);
        Assert.Equal(TenantState.Error, status!.State);
        Assert.Contains("does not exist", status.Error, StringComparison.Ordinal);
        Assert.Single(_graph.Probes);
    }
}
