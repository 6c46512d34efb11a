using MultiTenant.Scheduling;
using MultiTenant.Scheduling.Testing;
using MultiTenant.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace MultiTenant.Core.Tests.Scheduling;

public sealed class AdaptiveConnectLimiterTests(ITestOutputHelper output)
{
    private readonly TestTimeProvider _time = new();

    [Fact]
    public void Limit_doubles_per_round_trip_while_connects_are_fast_and_stops_at_the_ceiling()
    {
        using var limiter = new AdaptiveConnectLimiter(_time, ceiling: 20, perSecond: 100_000, initialLimit: 4);
        var first = Enumerable.Range(0, 5).Select(_ => limiter.AcquireAsync(CancellationToken.None)).ToArray();
        Assert.Equal(4, first.Count(t => t.IsCompletedSuccessfully));
        Assert.Equal(1, limiter.Waiting);

        _time.Advance(TimeSpan.FromMilliseconds(100));
        foreach (var granted in first.Take(4))
        {
            limiter.Release(Granted(granted), ConnectOutcome.Succeeded);
        }

        Assert.Equal(8, limiter.Limit); // +1 per healthy connect
        Assert.True(first[4].IsCompletedSuccessfully); // the waiter got a slot at once

        for (int round = 0; round < 5; round++)
        {
            var batch = Enumerable.Range(0, limiter.Limit - limiter.InFlight).Select(_ => limiter.AcquireAsync(CancellationToken.None)).ToArray();
            _time.Advance(TimeSpan.FromMilliseconds(100));
            foreach (var granted in batch)
            {
                limiter.Release(Granted(granted), ConnectOutcome.Succeeded);
            }
        }

        Assert.Equal(20, limiter.Limit);
    }

    [Fact]
    public void Limit_is_cut_when_connects_slow_down_and_once_per_round_trip_only()
    {
        using var limiter = new AdaptiveConnectLimiter(_time, ceiling: 1_000, perSecond: 100_000, initialLimit: 100);
        // Warm-up at 100 ms: the baseline (the long-term latency) is formed after a hundred connects.
        RunConnects(limiter, count: (int)(1 / AdaptiveConnectLimiter.LongLatencyAlpha), latency: TimeSpan.FromMilliseconds(100));
        int healthy = limiter.Limit;
        Assert.Equal(200, healthy);

        // The backend slows to 400 ms: once the smoothed latency passes twice the baseline, the limit is cut to 70 %, then not again
        // within one round trip however many slow connects end in it.
        var slow = Enumerable.Range(0, 40).Select(_ => limiter.AcquireAsync(CancellationToken.None)).ToArray();
        _time.Advance(TimeSpan.FromMilliseconds(400));
        foreach (var granted in slow)
        {
            limiter.Release(Granted(granted), ConnectOutcome.Succeeded);
        }

        // A few healthy samples grew the limit before the smoothed latency crossed the threshold; then exactly one cut.
        int cut = limiter.Limit;
        Assert.InRange(cut, (int)(healthy * AdaptiveConnectLimiter.Decrease), (int)((healthy + 5) * AdaptiveConnectLimiter.Decrease));

        RunConnects(limiter, count: 40, latency: TimeSpan.FromMilliseconds(400)); // still slow, a round trip later: cut again
        Assert.True(limiter.Limit < cut, $"limit {limiter.Limit}");
    }

    [Fact]
    public void Limit_is_cut_when_many_connects_fail_and_a_single_failure_only_stops_growth()
    {
        using var limiter = new AdaptiveConnectLimiter(_time, ceiling: 1_000, perSecond: 100_000, initialLimit: 50);
        RunConnects(limiter, count: 10, latency: TimeSpan.FromMilliseconds(100));
        Assert.Equal(60, limiter.Limit);

        var one = Granted(limiter.AcquireAsync(CancellationToken.None));
        _time.Advance(TimeSpan.FromMilliseconds(100));
        limiter.Release(one, ConnectOutcome.Failed);
        Assert.Equal(60, limiter.Limit);

        // Then most connects of a round trip fail: one cut.
        var failing = Enumerable.Range(0, 10).Select(_ => Granted(limiter.AcquireAsync(CancellationToken.None))).ToArray();
        _time.Advance(TimeSpan.FromMilliseconds(100));
        foreach (long granted in failing)
        {
            limiter.Release(granted, ConnectOutcome.Failed);
        }

        Assert.Equal((int)(60 * AdaptiveConnectLimiter.Decrease), limiter.Limit);
    }

    [Fact]
    public void Ignored_outcomes_neither_grow_nor_cut_the_limit()
    {
        using var limiter = new AdaptiveConnectLimiter(_time, ceiling: 1_000, perSecond: 100_000, initialLimit: 10);
        RunConnects(limiter, count: 50, latency: TimeSpan.FromSeconds(5), ConnectOutcome.Ignored);
        Assert.Equal(10, limiter.Limit);
        Assert.Equal(0, limiter.InFlight);
    }

    [Fact]
    public void The_rate_allows_one_second_of_burst_then_one_connect_per_token()
    {
        using var limiter = new AdaptiveConnectLimiter(_time, ceiling: 1_000, perSecond: 10, initialLimit: 1_000);
        var burst = Enumerable.Range(0, 12).Select(_ => limiter.AcquireAsync(CancellationToken.None)).ToArray();
        Assert.Equal(10, burst.Count(t => t.IsCompleted));
        Assert.Equal(TimeSpan.FromMilliseconds(100), Assert.Single(_time.ActiveTimers).DueTime);

        _time.Advance(TimeSpan.FromMilliseconds(100) - TimeSpan.FromTicks(1));
        Assert.Equal(10, burst.Count(t => t.IsCompleted));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(11, burst.Count(t => t.IsCompleted));
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(12, burst.Count(t => t.IsCompleted));
        Assert.Empty(_time.ActiveTimers); // nobody waits: the rate timer is not armed
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_queue_and_the_next_one_gets_the_slot()
    {
        using var limiter = new AdaptiveConnectLimiter(_time, ceiling: 1, perSecond: 100_000, initialLimit: 1);
        long held = await limiter.AcquireAsync(CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var cancelled = limiter.AcquireAsync(cts.Token);
        var next = limiter.AcquireAsync(CancellationToken.None);
        Assert.Equal(2, limiter.Waiting);

        await cts.CancelAsync();
        Assert.True(cancelled.IsCanceled);
        Assert.Equal(1, limiter.Waiting);

        limiter.Release(held, ConnectOutcome.Ignored);
        Assert.True(next.IsCompletedSuccessfully);
        Assert.Equal(1, limiter.InFlight);
        Assert.Equal(0, limiter.Waiting);
    }

    [Fact]
    public void Ten_thousand_tenants_with_connects_of_200_ms_to_1_5_s_all_connect_within_30_s_with_the_defaults()
    {
        var defaults = new MultiTenant.Hosting.TenantCoordinatorOptions();
        using var limiter = new AdaptiveConnectLimiter(_time, defaults.MaxConcurrentConnects, defaults.MaxConnectsPerSecond);
        var result = ConnectStorm.Run(_time, limiter, tenants: 10_000, backendCapacity: int.MaxValue);
        output.WriteLine($"adaptive, defaults: {result}, final limit {limiter.Limit}");

        Assert.Equal(10_000, result.Connected);
        Assert.True(result.AllConnectedAfter <= TimeSpan.FromSeconds(30), $"all connected after {result.AllConnectedAfter}");
        Assert.Equal(0, result.Failures);
    }

    [Fact]
    public void A_storm_of_fast_connects_whose_times_vary_keeps_the_limit_and_connects_at_once()
    {
        // Connects of 0–50 ms (the sample's simulator, a failover to a nearby backend): the smoothed latency swings around its mean of
        // 25 ms; a baseline taken as the lowest of those swings read ordinary connects as "slow" and cut the limit to a few (1,000 connects
        // then took seconds). A backend that never slows must not be treated as suffering.
        var defaults = new MultiTenant.Hosting.TenantCoordinatorOptions();
        using var limiter = new AdaptiveConnectLimiter(_time, defaults.MaxConcurrentConnects, defaults.MaxConnectsPerSecond);
        var result = ConnectStorm.Run(
            _time, limiter, tenants: 1_000, backendCapacity: int.MaxValue, minLatency: TimeSpan.Zero, maxLatency: TimeSpan.FromMilliseconds(50));
        output.WriteLine($"adaptive, defaults, 0–50 ms: {result}, final limit {limiter.Limit}");

        Assert.Equal(1_000, result.Connected);
        Assert.True(limiter.Limit >= 32, $"limit {limiter.Limit} after a storm on a healthy backend");
        Assert.True(result.AllConnectedAfter <= TimeSpan.FromMilliseconds(500), $"all connected after {result.AllConnectedAfter}");
    }

    [Fact]
    public void A_backend_that_slows_and_fails_under_load_gets_less_load_than_with_a_fixed_limit()
    {
        // The backend serves 150 connects at once at their usual latency; beyond that every connect slows in proportion, and beyond
        // 450 at once it fails. A fixed limit of 1,000 (the ceiling) keeps it failing; the adaptive limit backs off.
        using var adaptive = new AdaptiveConnectLimiter(_time, ceiling: 1_000, perSecond: 1_000);
        var withAdaptive = ConnectStorm.Run(_time, adaptive, tenants: 10_000, backendCapacity: 150);
        var withFixed = ConnectStorm.Run(new TestTimeProvider(), limiter: null, tenants: 10_000, backendCapacity: 150, fixedLimit: 1_000);
        output.WriteLine($"adaptive: {withAdaptive}, final limit {adaptive.Limit}; fixed 1,000: {withFixed}");

        Assert.Equal(10_000, withAdaptive.Connected);
        Assert.True(withAdaptive.MaxInFlightAfterWarmUp < 3 * 150, $"adaptive peak {withAdaptive.MaxInFlightAfterWarmUp} in flight after the warm-up");
        Assert.True(withFixed.Failures > 5 * Math.Max(1, withAdaptive.Failures), $"fixed {withFixed.Failures} failures, adaptive {withAdaptive.Failures}");
        Assert.True(withAdaptive.AllConnectedAfter < withFixed.AllConnectedAfter, $"adaptive {withAdaptive.AllConnectedAfter}, fixed {withFixed.AllConnectedAfter}");
    }

    /// <summary>The timestamp of a grant that must have completed already (the limiter grants synchronously).</summary>
    private static long Granted(Task<long> grant)
    {
        Assert.True(grant.IsCompletedSuccessfully, "the connect was not granted");
        return grant.Result;
    }

    private void RunConnects(AdaptiveConnectLimiter limiter, int count, TimeSpan latency, ConnectOutcome outcome = ConnectOutcome.Succeeded)
    {
        for (int i = 0; i < count; i++)
        {
            var granted = limiter.AcquireAsync(CancellationToken.None);
            Assert.True(granted.IsCompletedSuccessfully);
            _time.Advance(latency);
            limiter.Release(Granted(granted), outcome);
        }
    }
}
