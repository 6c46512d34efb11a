using System.Collections.Concurrent;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Supervision;

public sealed class RaceTests
{
    [Fact]
    public async Task Start_while_starting_connected_or_reconnecting_is_refused_as_already_running()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);

        var whileStarting = await Assert.ThrowsAsync<TenantAlreadyRunningException>(() => h.Coordinator.StartAsync(t).AsTask());
        Assert.Equal(t, whileStarting.Tenant);
        Assert.Equal("test-host", whileStarting.Host);

        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        await Assert.ThrowsAsync<TenantAlreadyRunningException>(() => h.Coordinator.StartAsync(t).AsTask());

        client.Context.ReportDisconnected("drop");
        await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        await Assert.ThrowsAsync<TenantAlreadyRunningException>(() => h.Coordinator.StartAsync(t).AsTask());

        Assert.Equal(1, h.Factory.CreateCalls);
        Assert.Equal(new TenantCounts(0, 0, 1, 0), h.Coordinator.Counts);
    }

    [Fact]
    public async Task Stop_while_connecting_cancels_the_connect_and_stops_the_tenant()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        var connect = await client.NextConnectAsync();
        Assert.False(connect.Token.IsCancellationRequested);

        var status = await h.Coordinator.StopAsync(t).WithTimeout();

        Assert.True(connect.Token.IsCancellationRequested);
        Assert.Equal(TenantState.Stopped, status.State);
        Assert.True(client.IsDisposed);
        Assert.Equal([TenantState.Starting, TenantState.Stopped], h.Statuses.States(t));
        Assert.Equal(default, h.Coordinator.Counts);
        Assert.Empty(await h.Store.ListDesiredRunningAsync(CancellationToken.None));
        Assert.Empty(h.Time.ActiveTimers); // the connect timeout timer went with the attempt
    }

    [Fact]
    public async Task Stop_while_waiting_for_a_connect_slot_stops_at_once()
    {
        await using var h = Create(o => o.MaxConcurrentConnects = 1);
        var a = Id("a");
        var b = Id("b");
        var clientA = await h.StartAsync(a);
        await clientA.NextConnectAsync(); // holds the only slot
        var clientB = await h.StartAsync(b);

        var status = await h.Coordinator.StopAsync(b).WithTimeout();

        Assert.Equal(TenantState.Stopped, status.State);
        Assert.Equal(0, clientB.ConnectCalls);
        Assert.True(clientB.IsDisposed);
    }

    [Fact]
    public async Task Stop_during_backoff_stops_without_waiting_for_the_delay()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        (await client.NextConnectAsync()).Fail(new IOException("1"));
        (await client.NextConnectAsync()).Fail(new IOException("2"));
        var backoff = await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(0.5));

        var status = await h.Coordinator.StopAsync(t).WithTimeout(); // no time advanced

        Assert.Equal(TenantState.Stopped, status.State);
        Assert.False(backoff.IsActive);
        Assert.True(client.IsDisposed);
        h.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(2, client.ConnectCalls);
        Assert.Equal(TenantState.Stopped, h.StateOf(t));
    }

    [Fact]
    public async Task Stop_while_connected_disconnects_and_disposes_the_client()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);

        var status = await h.Coordinator.StopAsync(t).WithTimeout();

        Assert.Equal(TenantState.Stopped, status.State);
        Assert.Equal(1, client.DisconnectCalls);
        Assert.True(client.IsDisposed);
        Assert.Equal(default, h.Coordinator.Counts);
        Assert.Equal(status, await h.Coordinator.StopAsync(t).WithTimeout()); // stopping again is a no-op
        Assert.Equal([TenantState.Starting, TenantState.Connected, TenantState.Stopped], h.Statuses.States(t));
    }

    [Fact]
    public async Task Late_reports_of_a_previous_runs_client_do_not_disturb_the_next_run()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var first = await h.StartConnectedAsync(t);
        await h.Coordinator.StopAsync(t).WithTimeout();
        var second = await h.StartConnectedAsync(t);

        first.Context.ReportDisconnected("late drop of the old connection");
        first.Context.ReportFatal(TenantFatalReason.LoggedOut, "late logout of the old connection");

        // The new run still reacts to its own client, so the old reports would have been seen by now.
        second.Context.ReportDisconnected("drop of the current connection");
        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        Assert.Equal("drop of the current connection", status.Error);
        Assert.DoesNotContain(TenantState.Error, h.Statuses.States(t));
    }

    [Fact]
    public async Task Start_right_after_stop_creates_the_new_client_only_once_the_old_one_was_disposed()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var first = await h.StartConnectedAsync(t);
        first.DisposeGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool oldDisposedWhenCreating = false;
        h.Factory.BeforeCreate = (_, _) =>
        {
            oldDisposedWhenCreating = first.IsDisposed;
            return ValueTask.CompletedTask;
        };

        var stopping = h.Coordinator.StopAsync(t).AsTask();
        var restarted = await h.Coordinator.StartAsync(t).WithTimeout(); // accepted while the old client is still cleaning up

        Assert.Equal(TenantState.Starting, restarted.State);
        Assert.False(stopping.IsCompleted); // the old client's dispose is still blocked
        Assert.Equal(1, h.Factory.CreateCalls);
        first.DisposeGate.SetResult();
        var second = await h.Factory.NextClientAsync(t);
        Assert.True(oldDisposedWhenCreating);
        Assert.Equal(0, h.Factory.Overlaps);
        await stopping.WithTimeout();
        (await second.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        Assert.Equal(new TenantCounts(0, 1, 0, 0), h.Coordinator.Counts); // the old run's stop did not overwrite the new run
        Assert.Equal([t], await h.Store.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Many_concurrent_starts_and_stops_of_one_tenant_end_consistent()
    {
        await using var h = Create();
        h.Factory.AutoConnect = true;
        var violations = new ConcurrentQueue<string>();
        h.Statuses.OnRecorded = _ => CheckCounts(h, maxPerState: 1, violations);
        var t = Id("tenant1");

        await Task.WhenAll(Enumerable.Range(0, 6).Select(worker => Task.Run(async () =>
        {
            var random = new Random(worker);
            for (int i = 0; i < 60; i++)
            {
                await StartOrStopAsync(h, t, random.Next(2) == 0);
            }
        }))).WithTimeout();

        var status = await h.Coordinator.StopAsync(t).WithTimeout();
        Assert.Equal(TenantState.Stopped, status.State);
        Assert.Equal(default, h.Coordinator.Counts);
        Assert.Empty(violations);
        Assert.Equal(0, h.Factory.Overlaps);
        await Task.WhenAll(h.Factory.Clients.Select(static c => c.Disposed)).WithTimeout();
        Assert.Empty(await h.Store.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Many_concurrent_starts_and_stops_over_many_tenants_keep_counts_matching_statuses()
    {
        await using var h = Create();
        h.Factory.AutoConnect = true;
        var tenants = Enumerable.Range(0, 12).Select(static i => Id($"tenant{i}")).ToArray();
        var violations = new ConcurrentQueue<string>();
        h.Statuses.OnRecorded = _ => CheckCounts(h, maxPerState: tenants.Length, violations);

        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var random = new Random(100 + worker);
            for (int i = 0; i < 80; i++)
            {
                await StartOrStopAsync(h, tenants[random.Next(tenants.Length)], random.Next(2) == 0);
            }
        }))).WithTimeout();

        foreach (var tenant in tenants)
        {
            await StartOrStopAsync(h, tenant, start: true);
        }

        foreach (var tenant in tenants)
        {
            await h.Statuses.WaitForStateAsync(tenant, TenantState.Connected);
        }

        var statuses = await h.Coordinator.ListStatusesAsync().WithTimeout();
        Assert.Equal(tenants.Length, statuses.Count(static s => s.State == TenantState.Connected));
        Assert.Equal(new TenantCounts(0, tenants.Length, 0, 0), h.Coordinator.Counts);
        Assert.Equal(0, h.Factory.Overlaps);

        await Task.WhenAll(tenants.Select(tenant => h.Coordinator.StopAsync(tenant).AsTask())).WithTimeout();
        Assert.Equal(default, h.Coordinator.Counts);
        Assert.All(await h.Coordinator.ListStatusesAsync().WithTimeout(), static s => Assert.Equal(TenantState.Stopped, s.State));
        Assert.Empty(violations);
    }

    [Fact]
    public async Task At_most_MaxConcurrentConnects_tenants_connect_at_once()
    {
        await using var h = Create(o => o.MaxConcurrentConnects = 2);
        var tenants = Enumerable.Range(0, 10).Select(static i => Id($"tenant{i}")).ToArray();
        foreach (var tenant in tenants)
        {
            await h.Coordinator.StartAsync(tenant).WithTimeout();
        }

        var calls = new List<ConnectCall> { await h.Factory.NextConnectAsync(), await h.Factory.NextConnectAsync() };
        for (int i = 0; i < tenants.Length; i++)
        {
            Assert.Equal(2, h.Factory.MaxConnectsInFlight);
            calls[i].Succeed();
            if (calls.Count < tenants.Length)
            {
                calls.Add(await h.Factory.NextConnectAsync()); // a slot freed: the next tenant connects
            }
        }

        foreach (var tenant in tenants)
        {
            await h.Statuses.WaitForStateAsync(tenant, TenantState.Connected);
        }

        Assert.Equal(2, h.Factory.MaxConnectsInFlight);
        Assert.Equal(tenants.Length, calls.Select(static c => c.Client.Tenant).Distinct().Count());
        Assert.Equal(new TenantCounts(0, 10, 0, 0), h.Coordinator.Counts);
    }

    [Fact]
    public async Task A_slow_connect_blocks_neither_the_api_nor_other_tenants()
    {
        await using var h = Create();
        var slow = Id("slow");
        var fast = Id("fast");
        var slowClient = await h.StartAsync(slow);
        await slowClient.NextConnectAsync(); // never answered

        await h.StartConnectedAsync(fast);

        Assert.Equal(TenantState.Starting, (await h.Coordinator.GetStatusAsync(slow).WithTimeout())!.State);
        Assert.Equal(2, (await h.Coordinator.ListStatusesAsync().WithTimeout()).Count);
        Assert.Equal(TenantState.Stopped, (await h.Coordinator.StopAsync(slow).WithTimeout()).State);
    }

    private static async Task StartOrStopAsync(CoordinatorHarness h, TenantId tenant, bool start)
    {
        if (start)
        {
            try
            {
                await h.Coordinator.StartAsync(tenant);
            }
            catch (TenantAlreadyRunningException)
            {
            }
        }
        else
        {
            try
            {
                await h.Coordinator.StopAsync(tenant);
            }
            catch (TenantNotFoundException)
            {
            }
        }
    }

    private static void CheckCounts(CoordinatorHarness h, int maxPerState, ConcurrentQueue<string> violations)
    {
        var counts = h.Coordinator.Counts;
        foreach (int n in new[] { counts.Starting, counts.Connected, counts.Disconnected, counts.Error })
        {
            if (n < 0 || n > maxPerState)
            {
                violations.Enqueue($"counts out of range: {counts}");
            }
        }
    }
}
