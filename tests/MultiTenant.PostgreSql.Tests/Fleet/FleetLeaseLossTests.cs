using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;
using MultiTenant.Clients;
using MultiTenant.Events;
using MultiTenant.Hosting;
using MultiTenant.PostgreSql.Tests.Infrastructure;
using Xunit;

namespace MultiTenant.PostgreSql.Tests.Fleet;

/// <summary>Failure path 1 of issue 11: losing one lease never stalls the renewal or the watchdog of the other leases.</summary>
[Collection(PostgreSqlCollection.Name)]
public sealed class FleetLeaseLossTests(PostgreSqlFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan HandlerBlock = TimeSpan.FromSeconds(20);
    private FleetHarness _fleet = null!;
    private ClockPump? _clock;
    private BlockingHandler? _handler;

    public async Task InitializeAsync() =>
        _fleet = new FleetHarness(await fixture.GetDatabaseAsync(nameof(FleetLeaseLossTests)), PostgreSqlTestStore.NewSchema());

    public async Task DisposeAsync()
    {
        _clock?.Resume();
        _handler?.Release.TrySetResult();
        await _fleet.DisposeAsync();
        if (_clock is not null)
        {
            await _clock.DisposeAsync();
        }

        _fleet.History.AssertNoOverlap();
    }

    [Fact]
    public async Task A_revoked_lease_whose_handler_blocks_20_s_stops_that_tenant_alone_while_every_other_lease_keeps_renewing()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var slow = TenantId.Parse("slow");
        var handler = _handler = new BlockingHandler(slow, time, HandlerBlock);

        // The fake clock follows the real one while the fleet sets up and winds down (heartbeats must reach the database, which judges
        // liveness by its own clock); in between, the test alone moves it.
        var clock = _clock = new ClockPump(time);
        var a = await _fleet.AddHostAsync(
            "a",
            configure: o =>
            {
                // The defaults: the local deadline is LeaseTtl − SafetyMargin = 8 s of the fake clock after a renewal's start.
                o.LeaseTtl = TimeSpan.FromSeconds(10);
                o.RenewInterval = TimeSpan.FromSeconds(3);
                o.SafetyMargin = TimeSpan.FromSeconds(2);
                o.HeartbeatInterval = TimeSpan.FromSeconds(2);
            },
            services: s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.TryAddEnumerable(ServiceDescriptor.Singleton<ITenantEventHandler>(handler));
            },
            coordinator: o => o.HealthCheckInterval = TimeSpan.FromHours(1));
        var others = await _fleet.StartTenantsAsync(20);
        await a.Coordinator.StartAsync(slow);
        await _fleet.WaitUntilAllRunOnceAsync([.. others, slow]);
        await handler.Blocked.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var reader = a.Host.Services.GetRequiredService<ITenantOwnershipReader>();
        Assert.True(reader.TryGetOwnershipEpoch(slow, out long slowEpoch));
        Assert.Equal(a.Member.GetEpoch(slow), slowEpoch);
        Assert.Equal(slowEpoch, a.Factory.Contexts[slow].OwnershipEpoch);

        await clock.PauseAsync();

        // Another instance takes the slow tenant's lease (a later epoch) behind this host's back.
        await using var database = Npgsql.NpgsqlDataSource.Create(_fleet.ConnectionString);
        await using (var command = database.CreateCommand(
            $"UPDATE \"{_fleet.Schema}\".leases SET owner = 'elsewhere', instance_id = gen_random_uuid(), epoch = epoch + 1, " +
            "expires_at = now() + interval '1 hour' WHERE business_id = 'slow'"))
        {
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        handler.Release.TrySetResult();
        await handler.Delaying.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // 24 s of the fake clock in renewal steps: each renewal must complete (the slow tenant's drain never holds it up) or the
        // watchdog, 8 s after the last one, would stop every tenant of the host.
        var host = (ITenantHost)a.Host.Services.GetRequiredService<TenantCoordinator>();
        for (int step = 0; step < 8; step++)
        {
            long renewals = a.Member.Renewals;
            time.Advance(TimeSpan.FromSeconds(3));
            await Eventually.UntilAsync(() => Task.FromResult(a.Member.Renewals), n => n > renewals, $"renewal {step + 1} completed");
            if (step == 0)
            {
                // Lost at the first renewal: reported at once, while its handler is still blocked.
                var local = host.GetLocalStatus(slow)!;
                Assert.Equal(TenantState.Error, local.State);
                Assert.Contains("ownership lost", local.Error, StringComparison.Ordinal);
                Assert.False(reader.TryGetOwnershipEpoch(slow, out _));
                Assert.Null(a.Member.GetEpoch(slow));
            }

            Assert.Equal(others.Count, a.Member.OwnedCount);
            foreach (var tenant in others)
            {
                Assert.Equal(TenantState.Connected, host.GetLocalStatus(tenant)!.State);
            }
        }

        // The client was disposed right after the loss; the handler ignored its cancellation until its 20 s were over.
        Assert.False(_fleet.History.Running().ContainsKey(slow));
        await handler.Finished.Task.WaitAsync(TimeSpan.FromSeconds(30));
        clock.Resume();
        Assert.True(handler.CancellationSeen, "the handler's token was cancelled after the ownership-lost drain timeout");
        Assert.All(others, t => Assert.True(reader.TryGetOwnershipEpoch(t, out _)));
    }

    /// <summary>Blocks on the connected event of one tenant for a span of the fake clock, ignoring its cancellation token.</summary>
    private sealed class BlockingHandler(TenantId tenant, TimeProvider time, TimeSpan block) : ITenantEventHandler
    {
        public TaskCompletionSource Blocked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completed when the lease is revoked: the 20 s of the fake clock count from then.</summary>
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completed once the 20 s wait is on the fake clock, so the test's 24 s of advances all count towards it.</summary>
        public TaskCompletionSource Delaying { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool CancellationSeen { get; private set; }

        public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask HandleAsync(TenantId eventTenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            if (eventTenant != tenant || tenantEvent is not TenantConnectedEvent)
            {
                return;
            }

            Blocked.TrySetResult();
            await Release.Task;
            var delay = Task.Delay(block, time, CancellationToken.None);
            Delaying.TrySetResult();
            await delay;
            CancellationSeen = cancellationToken.IsCancellationRequested;
            Finished.TrySetResult();
        }
    }

    /// <summary>Moves a fake clock along with the real one (10 ms steps) until paused; resumed and stopped by the test.</summary>
    private sealed class ClockPump : IAsyncDisposable
    {
        private readonly FakeTimeProvider _time;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private volatile bool _paused;
        private int _inStep;

        public ClockPump(FakeTimeProvider time)
        {
            _time = time;
            _loop = Task.Run(async () =>
            {
                var last = System.Diagnostics.Stopwatch.GetTimestamp();
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
                while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    var now = System.Diagnostics.Stopwatch.GetTimestamp();
                    Interlocked.Exchange(ref _inStep, 1);
                    if (!_paused)
                    {
                        _time.Advance(System.Diagnostics.Stopwatch.GetElapsedTime(last, now));
                    }

                    Interlocked.Exchange(ref _inStep, 0);
                    last = now;
                }
            });
        }

        /// <summary>Stops moving the clock; returns once no step is in progress.</summary>
        public async Task PauseAsync()
        {
            _paused = true;
            while (Volatile.Read(ref _inStep) != 0)
            {
                await Task.Yield();
            }
        }

        public void Resume() => _paused = false;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }
    }
}
