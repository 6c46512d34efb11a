using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Storage;
using MultiTenant.Tests.Events;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Diagnostics;

public sealed class MetricsTests
{
    [Fact]
    public async Task Tenant_gauges_reflect_the_states_of_the_tenants()
    {
        await using var h = Create();
        using var total = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenants.total");
        using var connected = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenants.connected");
        using var disconnected = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenants.disconnected");
        using var starting = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenants.starting");
        using var error = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenants.error");
        long[] Observe()
        {
            MetricCollector<long>[] all = [total, connected, disconnected, starting, error];
            foreach (var collector in all)
            {
                collector.RecordObservableInstruments();
            }

            return all.Select(static c => c.LastMeasurement!.Value).ToArray();
        }

        Assert.Equal([0, 0, 0, 0, 0], Observe());
        await h.StartConnectedAsync(Id("a"));
        await h.StartConnectedAsync(Id("b"));
        var c = await h.StartAsync(Id("c"));
        Assert.Equal([3, 2, 0, 1, 0], Observe());
        (await c.NextConnectAsync()).Fail(new IOException("down"));
        await c.NextConnectAsync(); // the immediate retry is pending: c is disconnected
        h.Factory.BeforeCreate = static (ctx, _) => ctx.BusinessId.Value == "d"
            ? throw new TenantFatalException(TenantFatalReason.LoggedOut, "logged out")
            : ValueTask.CompletedTask;
        await h.Coordinator.StartAsync(Id("d")).WithTimeout();
        await h.Statuses.WaitForStateAsync(Id("d"), TenantState.Error);

        Assert.Equal([4, 2, 1, 0, 1], Observe());

        foreach (var tenant in new[] { "a", "b", "c", "d" })
        {
            await h.Coordinator.StopAsync(Id(tenant)).WithTimeout();
        }

        Assert.Equal([0, 0, 0, 0, 0], Observe());
    }

    [Fact]
    public async Task Per_tenant_labels_stop_at_the_limit_and_totals_stay_exact()
    {
        await using var h = Create(o => o.MaxTenantMetricLabels = 2, handlers: [new RecordingHandler()]);
        using var messages = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenant.messages");
        using var reconnects = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenant.reconnects");
        var tenants = new[] { "t0", "t1", "t2", "t3" };
        foreach (var tenant in tenants)
        {
            var client = await h.StartConnectedAsync(Id(tenant));
            await client.Context.Events.DeliverAsync(new MessageEvent()).AsTask().WithTimeout();
            await client.Context.Events.DeliverAsync(new MessageEvent()).AsTask().WithTimeout();
            client.Context.ReportDisconnected("drop");
            await client.NextConnectAsync();
        }

        var byTenant = messages.GetMeasurementSnapshot()
            .GroupBy(static m => (string)m.Tags["business_id"]!)
            .ToDictionary(static g => g.Key, static g => g.Sum(static m => m.Value));
        Assert.Equal(new Dictionary<string, long> { ["t0"] = 2, ["t1"] = 2, [TenantMetrics.OtherTenantsLabel] = 4 }, byTenant);
        Assert.Equal(8, messages.GetMeasurementSnapshot().Sum(static m => m.Value));
        Assert.Equal(["t0", "t1", "_other", "_other"], reconnects.GetMeasurementSnapshot().Select(static m => (string)m.Tags["business_id"]!));
    }

    [Fact]
    public void No_tenant_gets_a_label_when_the_limit_is_zero()
    {
        using var metrics = new TenantMetrics(meterFactory: null, maxTenantLabels: 0);

        Assert.Equal(TenantMetrics.OtherTenantsLabel, metrics.GetTenantTag(Id("a")).Value);
    }

    [Fact]
    public async Task Concurrent_first_uses_of_tenant_labels_neither_waste_nor_split_labels()
    {
        // A stress test: threads released together race on the first use of the same tenants' labels, round after round.
        const int Tenants = 32, Threads = 4;
        var ids = Enumerable.Range(0, Tenants).Select(static i => Id($"t{i}")).ToArray();
        for (int round = 0; round < 300; round++)
        {
            using var metrics = new TenantMetrics(meterFactory: null, maxTenantLabels: Tenants);
            int ready = 0;
            var workers = Enumerable.Range(0, Threads).Select(_ => Task.Factory.StartNew(() =>
            {
                Interlocked.Increment(ref ready);
                var spin = new SpinWait();
                while (Volatile.Read(ref ready) < Threads)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }

                var tags = new string[Tenants];
                for (int i = 0; i < Tenants; i++)
                {
                    tags[i] = (string)metrics.GetTenantTag(ids[i]).Value!;
                }

                return tags;
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray(); // own threads: they spin

            var results = await Task.WhenAll(workers).WithTimeout();

            foreach (var tags in results)
            {
                // Exactly the limit: every tenant keeps its own label, whichever thread used it first.
                Assert.True(ids.Select(static t => t.Value).SequenceEqual(tags), $"round {round}: {string.Join(",", tags)}");
            }
        }
    }

    [Fact]
    public async Task Reconnects_and_connect_failures_are_counted_per_tenant()
    {
        await using var h = Create();
        using var reconnects = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenant.reconnects");
        using var errors = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenant.errors");
        var t = Id("a");
        var client = await h.StartAsync(t);
        (await client.NextConnectAsync()).Fail(new IOException("down"));
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);

        client.Context.ReportDisconnected("drop");
        await Supervision.StateMachineTests.BackoffAsync(h, client, TimeSpan.FromSeconds(0.5)); // second failure in a row
        await client.NextConnectAsync();

        Assert.Equal(1, Assert.Single(reconnects.GetMeasurementSnapshot()).Value);
        var connectError = Assert.Single(errors.GetMeasurementSnapshot(), static m => m.Value != 0);
        Assert.Equal("connect", connectError.Tags["kind"]);
        Assert.Equal("a", connectError.Tags["business_id"]);
    }

    [Fact]
    public async Task Queue_depth_gauge_sums_the_events_waiting_in_every_tenants_queue()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler { OnHandle = (_, e, ct) => e is NumberedEvent { Sequence: 0 } ? gate.WaitAsync(ct) : ValueTask.CompletedTask };
        await using var h = Create(handlers: [handler]);
        using var depth = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.queue.depth");
        var client = await h.StartConnectedAsync(Id("a"));
        await client.Context.Events.WriteAsync(new NumberedEvent { Sequence = 0 }).AsTask().WithTimeout();
        await gate.Entered;
        for (int i = 1; i <= 3; i++)
        {
            await client.Context.Events.WriteAsync(new NumberedEvent { Sequence = i }).AsTask().WithTimeout();
        }

        depth.RecordObservableInstruments();
        Assert.Equal(3, depth.LastMeasurement!.Value);
        gate.Open();
    }

    [Fact]
    public async Task Sends_go_through_a_connected_tenants_client_and_are_counted()
    {
        await using var h = Create();
        using var messages = new MetricCollector<long>(h.Metrics.Meter, "whatsmeow.tenant.messages");
        var t = Id("a");
        var client = await h.StartAsync(t);

        await Assert.ThrowsAsync<TenantNotConnectedException>(() => h.Coordinator.SendMessageAsync(t, new OutboundMessage("15551234567", "hi")));
        (await client.NextConnectAsync()).Succeed();
        await h.Statuses.WaitForStateAsync(t, TenantState.Connected);
        var result = await h.Coordinator.SendMessageAsync(t, new OutboundMessage("15551234567", "hi")).WithTimeout();

        Assert.Equal("a-m1", result.MessageId);
        var sent = Assert.Single(messages.GetMeasurementSnapshot(), static m => m.Value != 0);
        Assert.Equal("out", sent.Tags["direction"]);
    }

    [Fact]
    public async Task A_stored_error_seen_by_several_stops_at_once_is_counted_once()
    {
        // A stress test: threads released together stop a tenant this host does not run yet, whose stored status is "error";
        // each of them may build its supervisor, and only the one kept may count.
        const int Threads = 4;
        var t = Id("a");
        for (int round = 0; round < 150; round++)
        {
            var time = new TestTimeProvider();
            var store = new InMemoryTenantStore(time);
            await store.UpsertAsync([new TenantStatus(t, TenantState.Error, time.GetUtcNow(), time.GetUtcNow(), "logged out", "test-host")], CancellationToken.None);
            await using var h = Create(store: store, time: time);
            int ready = 0;
            var stops = Enumerable.Range(0, Threads).Select(_ => Task.Factory.StartNew(
                () =>
                {
                    Interlocked.Increment(ref ready);
                    var spin = new SpinWait();
                    while (Volatile.Read(ref ready) < Threads)
                    {
                        spin.SpinOnce(sleep1Threshold: -1);
                    }

                    return h.Coordinator.StopAsync(t).AsTask();
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default).Unwrap()).ToArray();

            await Task.WhenAll(stops).WithTimeout();

            Assert.True(h.Coordinator.Counts == default, $"round {round}: {h.Coordinator.Counts}");
        }
    }

    [Fact]
    public async Task A_supervisor_that_was_built_but_not_kept_counts_nothing()
    {
        await using var h = Create();
        var stored = new TenantStatus(Id("a"), TenantState.Error, h.Time.GetUtcNow(), h.Time.GetUtcNow(), "logged out", "test-host");

        // What ConcurrentDictionary.GetOrAdd does when two threads race: both build a value, one is thrown away.
        _ = new MultiTenant.Supervision.TenantSupervisor(h.Coordinator, stored.BusinessId, stored);

        Assert.Equal(default, h.Coordinator.Counts);
    }
}
