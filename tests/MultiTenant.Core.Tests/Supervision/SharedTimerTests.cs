using MultiTenant.Tests.Infrastructure;
using Xunit;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Core.Tests.Supervision;

/// <summary>Issue 12: idle tenants hold no timer of their own; the health checks and backoffs of every tenant share one timer each.</summary>
public sealed class SharedTimerTests
{
    private const int Tenants = 10_000;

    [Fact]
    public async Task Ten_thousand_idle_tenants_arm_one_timer_and_are_all_health_checked_when_it_fires()
    {
        // Fake time stands still while they connect: the connect rate (one second's burst) must not make them wait for it.
        await using var h = Create(o => o.MaxConnectsPerSecond = Tenants);
        h.Factory.AutoConnect = true;
        var ids = Enumerable.Range(0, Tenants).Select(i => Id($"idle{i:D5}")).ToArray();
        foreach (var id in ids)
        {
            await h.Coordinator.StartAsync(id);
        }

        await WaitUntilAsync(() => h.Coordinator.Counts.Connected == Tenants);
        await WaitUntilAsync(() => h.Coordinator.HealthChecks.Count == Tenants);

        var timer = Assert.Single(h.Time.ActiveTimers); // no connect timeout, no backoff, no per-tenant wait
        Assert.Equal(h.Options.HealthCheckInterval, timer.DueTime);

        h.Time.Advance(h.Options.HealthCheckInterval);
        await WaitUntilAsync(() => h.Factory.Clients.Sum(c => c.HealthCheckCalls) == Tenants);
        await WaitUntilAsync(() => h.Coordinator.HealthChecks.Count == Tenants); // every tenant waits for its next check
        Assert.Single(h.Time.ActiveTimers);
        Assert.Equal(Tenants, h.Coordinator.Counts.Connected);

        await h.StopHostAsync();
        Assert.Equal(0, h.Coordinator.HealthChecks.Count);
        Assert.Empty(h.Time.ActiveTimers);
    }

    [Fact]
    public async Task Many_tenants_in_backoff_share_one_timer_and_each_retries_when_its_own_delay_is_due()
    {
        await using var h = Create();
        var ids = Enumerable.Range(0, 100).Select(i => Id($"retry{i:D3}")).ToArray();
        foreach (var id in ids)
        {
            await h.Coordinator.StartAsync(id);
        }

        // Every first connect fails, the immediate retry too: each tenant then waits its backoff (1 s base × 0.5).
        for (int i = 0; i < 2 * ids.Length; i++)
        {
            (await h.Factory.NextConnectAsync()).Fail(new IOException("refused"));
        }

        await WaitUntilAsync(() => h.Coordinator.Backoffs.Count == ids.Length);
        Assert.Equal(TimeSpan.FromSeconds(0.5), Assert.Single(h.Time.ActiveTimers).DueTime);
        int before = h.Factory.Clients.Sum(c => c.ConnectCalls);
        h.Time.Advance(TimeSpan.FromSeconds(0.5) - TimeSpan.FromTicks(1));
        Assert.Equal(before, h.Factory.Clients.Sum(c => c.ConnectCalls));

        h.Time.Advance(TimeSpan.FromTicks(1));
        for (int i = 0; i < ids.Length; i++)
        {
            (await h.Factory.NextConnectAsync()).Succeed();
        }

        await WaitUntilAsync(() => h.Coordinator.Counts.Connected == ids.Length);
        Assert.Equal(0, h.Coordinator.Backoffs.Count);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeouts.Safety;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not become true in time");
            await Task.Delay(10);
        }
    }
}
