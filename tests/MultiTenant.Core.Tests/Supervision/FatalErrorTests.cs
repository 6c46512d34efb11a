using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Supervision;

public sealed class FatalErrorTests
{
    [Fact]
    public async Task Fatal_error_from_the_client_factory_puts_the_tenant_in_error_without_retrying()
    {
        var handler = new RecordingHandler();
        await using var h = Create(handlers: [handler]);
        using var errors = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenant.errors");
        h.Factory.BeforeCreate = (_, _) => throw new TenantFatalException(TenantFatalReason.NotPaired, "no paired device");
        var t = Id("tenant1");

        await h.Coordinator.StartAsync(t).WithTimeout();

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Error);
        Assert.Equal("no paired device", status.Error);
        await AssertNoRetryAsync(h, t);
        Assert.Equal(1, h.Factory.CreateCalls);
        Assert.Empty(h.Factory.Clients);
        Assert.Equal(new TenantCounts(0, 0, 0, 1), h.Coordinator.Counts);
        await handler.WaitForCountAsync(t, 1);
        var faulted = Assert.IsType<TenantFaultedEvent>(Assert.Single(handler.Events(t)));
        Assert.Equal(TenantFatalReason.NotPaired, faulted.Reason);
        Assert.Equal("no paired device", faulted.Error);
        var error = Assert.Single(errors.GetMeasurementSnapshot(), static m => m.Value != 0);
        Assert.Equal("fatal", error.Tags["kind"]);
        Assert.Equal("tenant1", error.Tags["business_id"]);
        Assert.Contains(h.Logs.GetSnapshot(), r => r.Id.Id == MultiTenantEventIds.TenantFaulted);
    }

    [Fact]
    public async Task Fatal_error_from_connect_puts_the_tenant_in_error_and_disposes_the_client()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);

        (await client.NextConnectAsync()).Fail(new TenantFatalException(TenantFatalReason.LoggedOut, "the device was logged out"));

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Error);
        Assert.Equal("the device was logged out", status.Error);
        await client.Disposed.WithTimeout();
        await AssertNoRetryAsync(h, t);
        Assert.Equal(1, client.ConnectCalls);
        Assert.Equal([TenantState.Starting, TenantState.Error], h.Statuses.States(t));
    }

    [Fact]
    public async Task Fatal_error_from_a_connect_after_transient_failures_stops_the_retries()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        (await client.NextConnectAsync()).Fail(new IOException("1"));
        (await client.NextConnectAsync()).Fail(new IOException("2"));
        await StateMachineTests.BackoffAsync(h, client, TimeSpan.FromSeconds(0.5));

        (await client.NextConnectAsync()).Fail(new TenantFatalException(TenantFatalReason.StreamReplaced, "stream replaced"));

        Assert.Equal("stream replaced", (await h.Statuses.WaitForStateAsync(t, TenantState.Error)).Error);
        await AssertNoRetryAsync(h, t);
        Assert.Equal(3, client.ConnectCalls);
    }

    [Fact]
    public async Task Fatal_error_from_the_health_probe_puts_the_tenant_in_error()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);
        client.Health = _ => throw new TenantFatalException(TenantFatalReason.CredentialsRevoked, "credentials revoked");

        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
        h.Time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal("credentials revoked", (await h.Statuses.WaitForStateAsync(t, TenantState.Error)).Error);
        await client.Disposed.WithTimeout();
        Assert.True(client.DisconnectCalls >= 1);
        await AssertNoRetryAsync(h, t);
        Assert.Equal(1, client.ConnectCalls);
    }

    [Fact]
    public async Task Fatal_report_while_connected_puts_the_tenant_in_error_with_its_reason()
    {
        var handler = new RecordingHandler();
        await using var h = Create(handlers: [handler]);
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);

        client.Context.ReportFatal(TenantFatalReason.LoggedOut, "logged out from the phone");

        Assert.Equal("logged out from the phone", (await h.Statuses.WaitForStateAsync(t, TenantState.Error)).Error);
        await client.Disposed.WithTimeout();
        Assert.Equal(1, client.DisconnectCalls);
        await AssertNoRetryAsync(h, t);
        Assert.Equal(1, client.ConnectCalls);
        await handler.WaitForCountAsync(t, 2);
        var faulted = Assert.IsType<TenantFaultedEvent>(handler.Events(t)[1]);
        Assert.Equal(TenantFatalReason.LoggedOut, faulted.Reason);
        Assert.Equal(new TenantCounts(0, 0, 0, 1), h.Coordinator.Counts);
    }

    [Fact]
    public async Task Fatal_report_during_a_connect_attempt_that_then_fails_is_not_forgotten()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        var call = await client.NextConnectAsync();

        // The server logs the device out during the handshake: the client reports it, and its connect fails too.
        client.Context.ReportFatal(TenantFatalReason.LoggedOut, "logged out during the handshake");
        call.Fail(new IOException("connection closed by the server"));

        var error = h.Statuses.WaitForStateAsync(t, TenantState.Error);
        var retry = client.NextConnectAsync();
        Assert.Same(error, await Task.WhenAny(error, retry));
        Assert.Equal("logged out during the handshake", (await error).Error);
        await AssertNoRetryAsync(h, t);
        Assert.Equal(1, client.ConnectCalls);
    }

    [Fact]
    public async Task Fatal_report_during_the_backoff_ends_it_at_once()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        (await client.NextConnectAsync()).Fail(new IOException("1"));
        (await client.NextConnectAsync()).Fail(new IOException("2"));
        var backoff = await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(0.5));

        client.Context.ReportFatal(TenantFatalReason.CredentialsRevoked, "credentials revoked");

        Assert.Equal("credentials revoked", (await h.Statuses.WaitForStateAsync(t, TenantState.Error)).Error);
        Assert.False(backoff.IsActive);
        await AssertNoRetryAsync(h, t);
        Assert.Equal(2, client.ConnectCalls);
    }

    [Fact]
    public async Task Tenant_in_error_can_be_started_again()
    {
        await using var h = Create();
        h.Factory.BeforeCreate = (_, _) => throw new TenantFatalException(TenantFatalReason.NotPaired, "no paired device");
        var t = Id("tenant1");
        await h.Coordinator.StartAsync(t).WithTimeout();
        await h.Statuses.WaitForStateAsync(t, TenantState.Error);
        h.Time.Advance(TimeSpan.FromMinutes(1));

        h.Factory.BeforeCreate = null; // the device was paired meanwhile
        var restartedAt = h.Time.GetUtcNow();
        var status = await h.Coordinator.StartAsync(t).WithTimeout();

        Assert.Equal(TenantState.Starting, status.State);
        Assert.Null(status.Error);
        Assert.Equal(restartedAt, status.StartedAt);
        var client = await h.Factory.NextClientAsync(t);
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        Assert.Equal(new TenantCounts(0, 1, 0, 0), h.Coordinator.Counts);
        Assert.Equal([TenantState.Starting, TenantState.Error, TenantState.Starting, TenantState.Connected], h.Statuses.States(t));
    }

    [Fact]
    public async Task Stopping_a_tenant_in_error_makes_it_stopped()
    {
        await using var h = Create();
        h.Factory.BeforeCreate = (_, _) => throw new TenantFatalException(TenantFatalReason.NotPaired, "no paired device");
        var t = Id("tenant1");
        await h.Coordinator.StartAsync(t).WithTimeout();
        await h.Statuses.WaitForStateAsync(t, TenantState.Error);

        var status = await h.Coordinator.StopAsync(t).WithTimeout();

        Assert.Equal(TenantState.Stopped, status.State);
        Assert.Equal(default, h.Coordinator.Counts);
        Assert.Empty(await h.Store.ListDesiredRunningAsync(CancellationToken.None));
    }

    /// <summary>The tenant's loop has ended, and however much time passes nothing is retried.</summary>
    private static async Task AssertNoRetryAsync(CoordinatorHarness h, TenantId tenant)
    {
        await h.Coordinator.FindSupervisor(tenant)!.Completion.WithTimeout();
        int creates = h.Factory.CreateCalls;
        int connects = h.Factory.Clients.Sum(static c => c.ConnectCalls);
        Assert.Empty(h.Time.ActiveTimers);
        for (int i = 0; i < 12; i++)
        {
            h.Time.Advance(TimeSpan.FromMinutes(10));
        }

        Assert.Equal(creates, h.Factory.CreateCalls);
        Assert.Equal(connects, h.Factory.Clients.Sum(static c => c.ConnectCalls));
        Assert.Equal(TenantState.Error, h.StateOf(tenant));
    }
}
