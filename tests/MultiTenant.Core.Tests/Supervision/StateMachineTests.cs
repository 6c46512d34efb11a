using Microsoft.Extensions.Logging.Testing;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Supervision;

public sealed class StateMachineTests
{
    [Fact]
    public async Task Started_tenant_goes_from_starting_to_connected()
    {
        var handler = new RecordingHandler();
        await using var h = Create(handlers: [handler]);
        var t = Id("tenant1");
        var startedAt = h.Time.GetUtcNow();

        var status = await h.Coordinator.StartAsync(t).WithTimeout();

        Assert.Equal(TenantState.Starting, status.State);
        Assert.Equal(t, status.BusinessId);
        Assert.Equal(startedAt, status.StartedAt);
        Assert.Equal("test-host", status.Host);
        Assert.Null(status.Error);
        var client = await h.Factory.NextClientAsync(t);
        var connect = await client.NextConnectAsync();
        Assert.Equal(TenantState.Starting, h.StateOf(t));
        Assert.Equal(1, h.Coordinator.Counts.Starting);

        h.Time.Advance(TimeSpan.FromSeconds(3));
        connect.Succeed();
        var connected = await h.Statuses.WaitForStateAsync(t, TenantState.Connected);

        Assert.Equal([TenantState.Starting, TenantState.Connected], h.Statuses.States(t));
        Assert.Equal(startedAt, connected.StartedAt);
        Assert.Equal(startedAt + TimeSpan.FromSeconds(3), connected.UpdatedAt);
        Assert.Equal(new TenantCounts(0, 1, 0, 0), h.Coordinator.Counts);
        await handler.WaitForCountAsync(t, 1);
        Assert.IsType<TenantConnectedEvent>(handler.Events(t)[0]);
        Assert.Same(connected, await h.Coordinator.GetStatusAsync(t).WithTimeout());
    }

    [Fact]
    public async Task Dropped_connection_goes_disconnected_then_reconnects_at_once()
    {
        var handler = new RecordingHandler();
        await using var h = Create(handlers: [handler]);
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);
        int mark = h.Statuses.Count(t);

        client.Context.ReportDisconnected("socket closed");

        var disconnected = await h.Statuses.WaitForAsync(t, TenantState.Disconnected, mark);
        Assert.Equal("socket closed", disconnected.Error);
        var reconnect = await client.NextConnectAsync(); // no time advanced: the first retry is immediate
        Assert.Equal(2, reconnect.Number);
        Assert.Equal(1, client.DisconnectCalls);
        reconnect.Succeed();
        var connected = await h.Statuses.WaitForAsync(t, TenantState.Connected, mark);

        Assert.Null(connected.Error);
        Assert.Equal(
            [TenantState.Starting, TenantState.Connected, TenantState.Disconnected, TenantState.Connected],
            h.Statuses.States(t));
        Assert.Equal(1, h.Factory.CreateCalls); // the same client reconnects
        await handler.WaitForCountAsync(t, 3);
        var events = handler.Events(t);
        Assert.IsType<TenantConnectedEvent>(events[0]);
        Assert.Equal("socket closed", Assert.IsType<TenantDisconnectedEvent>(events[1]).Reason);
        Assert.IsType<TenantConnectedEvent>(events[2]);
    }

    [Fact]
    public async Task Repeated_connect_failures_back_off_exponentially_with_full_jitter_up_to_five_minutes()
    {
        await using var h = Create();
        h.Random = 0.5;
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        double[] expectedSeconds = [0, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 150, 150, 150];

        foreach (double seconds in expectedSeconds)
        {
            var call = await client.NextConnectAsync();
            int mark = h.Statuses.Count(t);
            call.Fail(new IOException("network unreachable"));
            var status = await h.Statuses.WaitForAsync(t, TenantState.Disconnected, mark);
            // A short reason of ours, never the exception's own text (issue 9): that goes to the log with the event id.
            Assert.Matches(@"^connect failed; error id [0-9a-f]{8} in the log \(event 1004\)$", status.Error);
            Assert.DoesNotContain("network unreachable", status.Error, StringComparison.Ordinal);
            if (seconds > 0)
            {
                await BackoffAsync(h, client, TimeSpan.FromSeconds(seconds));
            }
        }

        var last = await client.NextConnectAsync();
        Assert.Equal(expectedSeconds.Length + 1, last.Number);
        last.Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        Assert.Equal(1, h.Factory.CreateCalls);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.125)]
    [InlineData(0.999)]
    public void Backoff_delays_are_the_ceiling_times_the_random_number(double random)
    {
        Assert.All(Enumerable.Range(1, 10), failures => Assert.Equal(
            TimeSpan.FromTicks((long)(Math.Min(Math.Pow(2, failures - 1), 300) * TimeSpan.TicksPerSecond * random)),
            MultiTenant.Supervision.ReconnectBackoff.GetDelay(failures, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5), random)));
    }

    [Fact]
    public async Task Jitter_comes_from_the_coordinators_random_source()
    {
        await using var h = Create();
        var t = Id("tenant1");
        // One value per backoff, in order (the supervisor asks for one even before the immediate first retry).
        var randoms = new Queue<double>([0.7, 0.999, 0.0, 0.25]);
        h.Coordinator.NextRandom = () => randoms.Dequeue();
        var client = await h.StartAsync(t);
        (await client.NextConnectAsync()).Fail(new IOException("1"));
        (await client.NextConnectAsync()).Fail(new IOException("2"));
        await BackoffAsync(h, client, TimeSpan.FromTicks((long)(TimeSpan.TicksPerSecond * 0.999)));
        (await client.NextConnectAsync()).Fail(new IOException("3")); // zero delay: no timer at all
        (await client.NextConnectAsync()).Fail(new IOException("4"));
        await BackoffAsync(h, client, TimeSpan.FromSeconds(1)); // ceiling 4 s × 0.25

        Assert.Equal(5, (await client.NextConnectAsync()).Number);
    }

    [Theory]
    [InlineData(60, true)]
    [InlineData(61, true)]
    [InlineData(59, false)]
    [InlineData(5, false)]
    public async Task Backoff_resets_only_after_a_connection_that_lasted_the_stable_period(int connectedSeconds, bool resets)
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        // Four failures: retries after 0, 0.5, 1 and 2 s.
        (await client.NextConnectAsync()).Fail(new IOException("1"));
        (await client.NextConnectAsync()).Fail(new IOException("2"));
        await BackoffAsync(h, client, TimeSpan.FromSeconds(0.5));
        (await client.NextConnectAsync()).Fail(new IOException("3"));
        await BackoffAsync(h, client, TimeSpan.FromSeconds(1));
        (await client.NextConnectAsync()).Fail(new IOException("4"));
        await BackoffAsync(h, client, TimeSpan.FromSeconds(2));
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);

        await StayConnectedAsync(h, client, TimeSpan.FromSeconds(connectedSeconds));
        client.Context.ReportDisconnected("dropped");
        await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);

        if (resets)
        {
            Assert.Equal(6, (await client.NextConnectAsync()).Number); // immediate, like a first drop
        }
        else
        {
            await BackoffAsync(h, client, TimeSpan.FromSeconds(4)); // fifth failure: ceiling 8 s × 0.5
            Assert.Equal(6, (await client.NextConnectAsync()).Number);
        }
    }

    [Fact]
    public async Task Time_spent_after_the_drop_does_not_count_as_a_stable_connection()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new RecordingHandler
        {
            OnHandle = async (_, e, _) =>
            {
                if (e is NumberedEvent)
                {
                    entered.TrySetResult();
                    await gate.Task;
                }
            },
        };
        await using var h = Create(o => o.EventQueueCapacity = 1, handlers: [handler]);
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        (await client.NextConnectAsync()).Fail(new IOException("1"));
        (await client.NextConnectAsync()).Fail(new IOException("2"));
        await BackoffAsync(h, client, TimeSpan.FromSeconds(0.5));
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        await client.Context.Events.WriteAsync(new NumberedEvent()).AsTask().WithTimeout();
        await entered.Task.WithTimeout();
        await client.Context.Events.WriteAsync(new NumberedEvent()).AsTask().WithTimeout(); // the queue is full now
        await StayConnectedAsync(h, client, TimeSpan.FromSeconds(5));

        client.Context.ReportDisconnected("dropped after 5 s");
        await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        // The loop now waits to queue the disconnected event behind the slow handler while a minute passes.
        h.Time.Advance(TimeSpan.FromMinutes(1));
        gate.SetResult();

        // Third failure: ceiling 2 s × 0.5, no reset (a reset would reconnect at once).
        var backoff = h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(1));
        var reconnect = client.NextConnectAsync();
        Assert.Same(backoff, await Task.WhenAny(backoff, reconnect));
        Assert.False(reconnect.IsCompleted);
        h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(4, (await reconnect).Number);
    }

    [Fact]
    public async Task Transient_failure_of_the_client_factory_is_retried_with_backoff()
    {
        await using var h = Create();
        int calls = 0;
        h.Factory.BeforeCreate = (_, _) => ++calls <= 2 ? throw new IOException("the state store is unavailable") : ValueTask.CompletedTask;
        var t = Id("tenant1");

        await h.Coordinator.StartAsync(t).WithTimeout();

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        Assert.StartsWith("creating the client failed; error id ", status.Error, StringComparison.Ordinal); // the exception's text stays in the log
        Assert.DoesNotContain("the state store is unavailable", status.Error, StringComparison.Ordinal);
        var timer = await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(0.5)); // immediate retry failed too: back off
        h.Time.Advance(TimeSpan.FromSeconds(0.5));
        var client = await h.Factory.NextClientAsync(t);
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        Assert.Equal(3, h.Factory.CreateCalls);
        Assert.Single(h.Factory.Clients);
        Assert.False(timer.IsActive);
    }

    [Fact]
    public async Task Health_check_catches_a_client_that_says_it_is_no_longer_connected()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);
        var timer = await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(10));

        client.IsConnected = false; // dropped silently: no ReportDisconnected
        h.Time.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        Assert.True(timer.IsActive);
        Assert.Equal(TenantState.Connected, h.StateOf(t));
        h.Time.Advance(TimeSpan.FromTicks(1));

        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        Assert.Equal("the health check found the connection gone", status.Error);
        Assert.Equal(0, client.HealthCheckCalls); // IsConnected false is enough
        Assert.Contains(h.Logs.GetSnapshot(), r => r.Id.Id == MultiTenantEventIds.SilentDropDetected);
        (await client.NextConnectAsync()).Succeed(); // immediate reconnect
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
    }

    [Fact]
    public async Task Health_check_catches_a_probe_that_fails()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);

        await StayConnectedAsync(h, client, TimeSpan.FromSeconds(30));
        Assert.Equal(3, client.HealthCheckCalls);
        Assert.Equal([TenantState.Starting, TenantState.Connected], h.Statuses.States(t));

        client.Health = _ => ValueTask.FromResult(false);
        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
        h.Time.Advance(TimeSpan.FromSeconds(10));

        await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        Assert.Equal(4, client.HealthCheckCalls);
        Assert.Equal(2, (await client.NextConnectAsync()).Number);
    }

    [Fact]
    public async Task Health_probe_that_throws_a_transient_error_counts_as_a_drop()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);
        client.Health = _ => throw new TimeoutException("ping timed out");

        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
        h.Time.Advance(TimeSpan.FromSeconds(10));

        await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        Assert.Equal(2, (await client.NextConnectAsync()).Number);
    }

    [Fact]
    public async Task Lost_connection_releases_the_health_check_timer_at_once()
    {
        await using var h = Create();
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);
        var timer = await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(10));
        int mark = h.Statuses.Count(t);

        client.Context.ReportDisconnected("socket closed");

        await h.Statuses.WaitForAsync(t, TenantState.Disconnected, mark);
        Assert.False(timer.IsActive); // an idle tenant's wait holds no timer beyond its connection
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        Assert.Single(h.Time.ActiveTimers, static x => x.DueTime == TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Health_check_interval_is_configurable()
    {
        await using var h = Create(o => o.HealthCheckInterval = TimeSpan.FromSeconds(2));
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);

        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(2));
        h.Time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(1, await client.NextHealthCheckAsync());
    }

    [Fact]
    public async Task Connect_that_exceeds_the_connect_timeout_fails_and_is_retried()
    {
        await using var h = Create(o => o.ConnectTimeout = TimeSpan.FromSeconds(20));
        var t = Id("tenant1");
        var client = await h.StartAsync(t);
        var call = await client.NextConnectAsync();

        await h.Time.WaitForTimerAsync(TimeSpan.FromSeconds(20));
        h.Time.Advance(TimeSpan.FromSeconds(20));

        await call.Cancelled.WithTimeout();
        var status = await h.Statuses.WaitForStateAsync(t, TenantState.Disconnected);
        Assert.Contains("did not finish within", status.Error, StringComparison.Ordinal);
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
    }

    /// <summary>Waits until the backoff timer of <paramref name="delay"/> is pending, checks nothing happens before it is due, then lets it fire.</summary>
    internal static async Task BackoffAsync(CoordinatorHarness h, FakeClient client, TimeSpan delay)
    {
        var timer = await h.Time.WaitForTimerAsync(delay);
        int connects = client.ConnectCalls;
        if (delay > TimeSpan.FromTicks(1))
        {
            h.Time.Advance(delay - TimeSpan.FromTicks(1));
            Assert.True(timer.IsActive, "the backoff timer must not fire early");
            Assert.Equal(connects, client.ConnectCalls);
            h.Time.Advance(TimeSpan.FromTicks(1));
        }
        else
        {
            h.Time.Advance(delay);
        }

        Assert.False(timer.IsActive);
    }

    /// <summary>Lets <paramref name="duration"/> pass while connected, advancing through every health check.</summary>
    internal static async Task StayConnectedAsync(CoordinatorHarness h, FakeClient client, TimeSpan duration)
    {
        var interval = h.Options.HealthCheckInterval;
        var left = duration;
        while (left >= interval)
        {
            int checks = client.HealthCheckCalls;
            await h.Time.WaitForTimerAsync(interval);
            h.Time.Advance(interval);
            left -= interval;
            await client.NextHealthCheckAsync();
            Assert.Equal(checks + 1, client.HealthCheckCalls);
        }

        if (left > TimeSpan.Zero)
        {
            var timer = await h.Time.WaitForTimerAsync(interval);
            h.Time.Advance(left);
            Assert.True(timer.IsActive);
        }
    }
}
