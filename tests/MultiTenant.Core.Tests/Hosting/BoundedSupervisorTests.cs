using MultiTenant.Clients;
using MultiTenant.Storage;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Hosting;

/// <summary>Issue 9, bounded resources: stopped and unknown tenants hold nothing in the coordinator's memory.</summary>
public sealed class BoundedSupervisorTests
{
    [Fact]
    public async Task A_stopped_tenant_is_forgotten_once_its_status_is_written_and_is_read_from_the_store_after()
    {
        await using var h = Create();
        await h.StartHostAsync();
        var t = Id("tenant1");
        await h.StartConnectedAsync(t);
        Assert.Equal(1, h.Coordinator.SupervisorCount);

        var stopped = await h.Coordinator.StopAsync(t).WithTimeout();
        await h.Coordinator.FlushStatusAsync(t).WithTimeout();

        Assert.Equal(TenantState.Stopped, stopped.State);
        Assert.Null(h.Coordinator.FindSupervisor(t));
        Assert.Equal(0, h.Coordinator.SupervisorCount);
        Assert.Equal(0, h.Coordinator.IndexedTenantCount);
        var read = await h.Coordinator.GetStatusAsync(t).WithTimeout();
        Assert.Equal(stopped, read);
        Assert.Equal([stopped], await h.Coordinator.ListStatusesAsync().AsTask().WithTimeout());
        Assert.Equal([stopped], (await h.Coordinator.ListStatusPageAsync(new TenantStatusQuery()).AsTask().WithTimeout()).Statuses);
        Assert.Equal(default, h.Coordinator.Counts);

        // Started again: a new supervisor, which counts and lists as before.
        await h.StartConnectedAsync(t);
        Assert.Equal(1, h.Coordinator.SupervisorCount);
        Assert.Equal(1, h.Coordinator.IndexedTenantCount);
        Assert.Equal(TenantState.Connected, (await h.Coordinator.GetStatusAsync(t).WithTimeout())!.State);
        Assert.Equal(1, h.Coordinator.Counts.Connected);
    }

    [Fact]
    public async Task A_tenant_started_again_before_its_stopped_status_was_written_keeps_its_supervisor()
    {
        await using var h = Create(); // the host's status writer loop is not started: statuses are written by the flushes below only
        var t = Id("tenant1");
        await h.StartConnectedAsync(t);
        var supervisor = h.Coordinator.FindSupervisor(t);
        await h.Coordinator.StopAsync(t).WithTimeout();
        await h.StartAsync(t); // the pending stopped status is replaced by the starting one

        await h.Coordinator.FlushStatusAsync(t).WithTimeout();

        Assert.Same(supervisor, h.Coordinator.FindSupervisor(t));
        Assert.Equal(TenantState.Starting, (await h.Store.GetAsync(t, CancellationToken.None))!.State);
    }

    [Fact]
    public async Task A_start_that_finds_a_retired_supervisor_starts_a_new_one()
    {
        await using var h = Create();
        var t = Id("tenant1");
        await h.StartConnectedAsync(t);
        await h.Coordinator.StopAsync(t).WithTimeout();
        var retired = h.Coordinator.FindSupervisor(t)!;
        Assert.True(retired.TryRetire(retired.Status)); // as when its stopped status was written, just before the coordinator forgets it

        await h.StartConnectedAsync(t);

        var current = h.Coordinator.FindSupervisor(t);
        Assert.NotNull(current);
        Assert.NotSame(retired, current);
        Assert.False(retired.TryStart(1, out bool isRetired));
        Assert.True(isRetired);
        Assert.Equal(1, h.Coordinator.SupervisorCount);
        Assert.Equal(1, h.Coordinator.IndexedTenantCount);
        Assert.Equal(1, h.Coordinator.Counts.Connected);
    }

    [Fact]
    public async Task A_running_or_newer_status_is_never_retired()
    {
        await using var h = Create();
        var t = Id("tenant1");
        await h.StartConnectedAsync(t);
        var supervisor = h.Coordinator.FindSupervisor(t)!;
        Assert.False(supervisor.TryRetire(supervisor.Status)); // connected

        await h.Coordinator.StopAsync(t).WithTimeout();
        var stopped = supervisor.Status;
        Assert.False(supervisor.TryRetire(stopped with { })); // an equal status that is not the one shown: a newer one came
        Assert.True(supervisor.TryRetire(stopped));
    }

    [Fact]
    public async Task Requests_for_a_thousand_unknown_tenants_allocate_nothing_that_stays()
    {
        await using var h = Create();
        await h.StartHostAsync();
        var message = new OutboundMessage("15551234567", "hi");

        for (int i = 0; i < 1_000; i++)
        {
            var t = Id("unknown" + i);
            Assert.Null(await h.Coordinator.GetStatusAsync(t).WithTimeout());
            await Assert.ThrowsAsync<TenantNotFoundException>(() => h.Coordinator.StopAsync(t).AsTask()).WithTimeout();
            await Assert.ThrowsAsync<TenantNotFoundException>(() => h.Coordinator.SendMessageAsync(t, message)).WithTimeout();
            await Assert.ThrowsAsync<TenantNotFoundException>(() => h.Coordinator.LogoutAsync(t)).WithTimeout();
            await h.Coordinator.PurgeAsync(t).AsTask().WithTimeout();
            Assert.False(h.Coordinator.TryGetOwnershipEpoch(t, out _));
            Assert.Null(await h.Store.GetStore(t).GetAsync("device", "id"));
        }

        Assert.Equal(0, h.Coordinator.SupervisorCount);
        Assert.Equal(0, h.Coordinator.IndexedTenantCount);
        Assert.Equal(0, h.Coordinator.PendingStatusWrites);
        Assert.Equal(0, h.Store.TenantsWithState);
        Assert.Empty(await h.Coordinator.ListStatusesAsync().AsTask().WithTimeout());
        Assert.Equal(default, h.Coordinator.Counts);
    }

    [Fact]
    public async Task Two_hundred_tenants_started_and_stopped_leave_no_supervisor_behind()
    {
        await using var h = Create();
        await h.StartHostAsync();
        h.Factory.AutoConnect = true;
        var tenants = Enumerable.Range(0, 200).Select(static i => Id("t" + i)).ToArray();
        foreach (var t in tenants)
        {
            await h.Coordinator.StartAsync(t).WithTimeout();
        }

        foreach (var t in tenants)
        {
            await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        }

        Assert.Equal(200, h.Coordinator.SupervisorCount);
        foreach (var t in tenants)
        {
            await h.Coordinator.StopAsync(t).WithTimeout();
        }

        foreach (var t in tenants)
        {
            await h.Coordinator.FlushStatusAsync(t).WithTimeout();
        }

        Assert.Equal(0, h.Coordinator.SupervisorCount);
        Assert.Equal(0, h.Coordinator.IndexedTenantCount);
        Assert.Equal(0, h.Coordinator.PendingStatusWrites);
        Assert.All(await h.Coordinator.ListStatusesAsync().AsTask().WithTimeout(), static s => Assert.Equal(TenantState.Stopped, s.State));
        Assert.Equal(200, (await h.Coordinator.ListStatusesAsync().AsTask().WithTimeout()).Count);
    }
}
