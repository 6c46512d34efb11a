using MultiTenant.Storage;
using NSubstitute;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Storage;

public sealed class ResumeTests
{
    [Fact]
    public async Task A_restarted_host_resumes_the_tenants_started_before_and_not_stopped()
    {
        var time = new TestTimeProvider();
        var store = new InMemoryTenantStore(time);
        var a = Id("a");
        var b = Id("b");
        var c = Id("c");
        await using (var first = Create(store: store, time: time))
        {
            await first.StartHostAsync();
            first.Factory.AutoConnect = true;
            foreach (var tenant in new[] { a, b, c })
            {
                await first.StartAsync(tenant);
                await first.Statuses.WaitForStateAsync(tenant, TenantState.Connected);
            }

            await first.Coordinator.StopAsync(b).WithTimeout();
            await first.StopHostAsync(); // a host shutdown is not a stop: a and c stay desired-running
        }

        Assert.Equal([a, c], await store.ListDesiredRunningAsync(CancellationToken.None));
        await using var second = Create(store: store, time: time);
        second.Factory.AutoConnect = true;

        await second.StartHostAsync();

        await second.Factory.NextClientAsync(a);
        await second.Factory.NextClientAsync(c);
        await second.Statuses.WaitForStateAsync(a, TenantState.Connected);
        await second.Statuses.WaitForStateAsync(c, TenantState.Connected);
        Assert.False(second.Factory.HasUnclaimedClient(b));
        Assert.Equal(2, second.Factory.CreateCalls);
        Assert.Equal(TenantState.Stopped, (await second.Coordinator.GetStatusAsync(b).WithTimeout())!.State);
        var listed = await second.Coordinator.ListStatusesAsync().WithTimeout();
        Assert.Equal(["a", "b", "c"], listed.Select(static s => s.BusinessId.Value));
        Assert.Equal(new MultiTenant.Diagnostics.TenantCounts(0, 2, 0, 0), second.Coordinator.Counts);
    }

    [Fact]
    public async Task Resume_can_be_turned_off()
    {
        var time = new TestTimeProvider();
        var store = new InMemoryTenantStore(time);
        await store.SetDesiredStateAsync(Id("a"), running: true, CancellationToken.None);
        await using var h = Create(o => o.ResumeTenantsOnStart = false, store: store, time: time);

        await h.StartHostAsync();

        Assert.Equal(0, h.Factory.CreateCalls);
        Assert.Null(await h.Coordinator.GetStatusAsync(Id("a")).WithTimeout());
    }

    [Fact]
    public async Task A_tenant_stored_as_running_on_a_dead_host_is_shown_stopped_until_resumed()
    {
        var time = new TestTimeProvider();
        var store = new InMemoryTenantStore(time);
        var t = Id("a");
        await store.UpsertAsync([new TenantStatus(t, TenantState.Connected, time.GetUtcNow(), time.GetUtcNow(), null, "old-host")], CancellationToken.None);
        await using var h = Create(store: store, time: time);

        var status = await h.Coordinator.StopAsync(t).WithTimeout();

        Assert.Equal(TenantState.Stopped, status.State);
        Assert.Equal(default, h.Coordinator.Counts);
    }

    [Fact]
    public async Task Start_and_stop_record_the_desired_state()
    {
        await using var h = Create();
        var t = Id("a");

        await h.StartAsync(t);
        Assert.Equal([t], await h.Store.ListDesiredRunningAsync(CancellationToken.None));
        await h.Coordinator.StopAsync(t).WithTimeout();
        Assert.Empty(await h.Store.ListDesiredRunningAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_start_the_registry_cannot_record_does_not_run()
    {
        var registry = Substitute.For<ITenantRegistry>();
        registry.SetDesiredStateAsync(default, default, default)
            .ReturnsForAnyArgs(static _ => ValueTask.FromException(new IOException("registry down")));
        await using var h = Create(registry: registry);
        var t = Id("a");

        await Assert.ThrowsAsync<IOException>(() => h.Coordinator.StartAsync(t).AsTask().WithTimeout());

        Assert.Equal(TenantState.Stopped, h.StateOf(t));
        Assert.Equal(default, h.Coordinator.Counts);
        Assert.All(h.Factory.Clients, static c => Assert.True(c.IsDisposed));
    }

    [Fact]
    public async Task Unknown_tenants_are_not_found()
    {
        await using var h = Create();
        var t = Id("nobody");

        Assert.Null(await h.Coordinator.GetStatusAsync(t).WithTimeout());
        await Assert.ThrowsAsync<TenantNotFoundException>(() => h.Coordinator.StopAsync(t).AsTask().WithTimeout());
        await Assert.ThrowsAsync<TenantNotFoundException>(() => h.Coordinator.SendMessageAsync(t, new("1", "hi")).WithTimeout());
        await Assert.ThrowsAsync<ArgumentException>(() => h.Coordinator.StartAsync(default).AsTask());
    }
}
