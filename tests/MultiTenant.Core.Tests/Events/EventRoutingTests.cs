using System.Threading.Channels;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;
using static MultiTenant.Tests.Infrastructure.CoordinatorHarness;

namespace MultiTenant.Tests.Events;

public sealed class EventRoutingTests
{
    [Fact]
    public async Task Events_of_each_tenant_arrive_in_order_under_concurrent_writers()
    {
        const int Tenants = 10, Writers = 4, PerWriter = 250;
        var handler = new RecordingHandler
        {
            Only = [typeof(NumberedEvent)],
            OnHandle = static async (_, e, _) =>
            {
                if (e is NumberedEvent { Sequence: var s } && s % 16 == 0)
                {
                    await Task.Yield(); // handlers that complete asynchronously, too
                }
            },
        };
        await using var h = Create(o => o.EventQueueCapacity = 8, handlers: [handler]);
        h.Factory.AutoConnect = true;
        var tenants = Enumerable.Range(0, Tenants).Select(static i => Id($"tenant{i}")).ToArray();
        var clients = new List<FakeClient>();
        foreach (var tenant in tenants)
        {
            clients.Add(await h.StartAsync(tenant));
        }

        await Task.WhenAll(clients.SelectMany(client => Enumerable.Range(0, Writers).Select(writer => Task.Run(async () =>
        {
            for (int i = 0; i < PerWriter; i++)
            {
                await client.Context.Events.WriteAsync(new NumberedEvent { Writer = writer, Sequence = i });
            }
        })))).WithTimeout();
        await handler.WaitForTotalAsync(Tenants * Writers * PerWriter);

        Assert.Equal(0, handler.Overlaps); // one event at a time within a tenant
        foreach (var tenant in tenants)
        {
            var events = handler.Events(tenant).Cast<NumberedEvent>().ToList();
            Assert.Equal(Writers * PerWriter, events.Count);
            for (int writer = 0; writer < Writers; writer++)
            {
                Assert.Equal(Enumerable.Range(0, PerWriter), events.Where(e => e.Writer == writer).Select(static e => e.Sequence));
            }
        }
    }

    [Fact]
    public async Task Handlers_of_different_tenants_run_in_parallel()
    {
        var aEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bEntered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new RecordingHandler
        {
            // Each tenant's handler waits until the other tenant's handler is running: this only finishes if they run at the same time.
            OnHandle = async (tenant, _, _) =>
            {
                if (tenant.Value == "a")
                {
                    aEntered.TrySetResult();
                    await bEntered.Task;
                }
                else
                {
                    bEntered.TrySetResult();
                    await aEntered.Task;
                }
            },
        };
        await using var queues = new QueueFixture();
        var a = queues.Create("a", [handler]);
        var b = queues.Create("b", [handler]);

        await a.WriteAsync(new NumberedEvent());
        await b.WriteAsync(new NumberedEvent());

        await handler.WaitForTotalAsync(2);
    }

    [Fact]
    public async Task A_blocked_handler_of_one_tenant_does_not_delay_another_tenant()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler { OnHandle = (tenant, _, ct) => tenant.Value == "slow" ? gate.WaitAsync(ct) : ValueTask.CompletedTask };
        await using var queues = new QueueFixture();
        var slow = queues.Create("slow", [handler]);
        var fast = queues.Create("fast", [handler]);

        await slow.WriteAsync(new NumberedEvent { Sequence = 0 });
        await gate.Entered;
        for (int i = 0; i < 50; i++)
        {
            await fast.WriteAsync(new NumberedEvent { Sequence = i }).AsTask().WithTimeout();
        }

        await handler.WaitForCountAsync(Id("fast"), 50);
        Assert.False(gate.IsOpen);
        Assert.Empty(handler.Events(Id("slow")));
        gate.Open();
        await handler.WaitForCountAsync(Id("slow"), 1);
    }

    [Fact]
    public async Task A_handler_that_throws_is_logged_and_counted_and_routing_goes_on()
    {
        var failing = new RecordingHandler
        {
            OnHandle = static (_, e, _) => e is NumberedEvent { Sequence: 1 } ? throw new InvalidOperationException("handler bug") : ValueTask.CompletedTask,
        };
        var second = new RecordingHandler();
        await using var queues = new QueueFixture();
        using var errors = new MetricCollector<long>(queues.Metrics.Meter, "whatsmeow.tenant.errors");
        var queue = queues.Create("tenant1", [failing, second]);

        for (int i = 0; i < 3; i++)
        {
            await queue.WriteAsync(new NumberedEvent { Sequence = i });
        }

        await second.WaitForCountAsync(Id("tenant1"), 3);
        Assert.Equal([0, 1, 2], second.Events(Id("tenant1")).Cast<NumberedEvent>().Select(static e => e.Sequence)); // still got the event
        Assert.Equal([0, 2], failing.Events(Id("tenant1")).Cast<NumberedEvent>().Select(static e => e.Sequence));
        var log = Assert.Single(queues.Logs.GetSnapshot(), static r => r.Id.Id == MultiTenantEventIds.HandlerFailed);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Error, log.Level);
        Assert.Equal("handler bug", log.Exception?.Message);
        Assert.Equal("tenant1", log.GetStructuredStateValue("BusinessId"));
        Assert.Equal(nameof(RecordingHandler), log.GetStructuredStateValue("Handler"));
        var error = Assert.Single(errors.GetMeasurementSnapshot(), static m => m.Value != 0);
        Assert.Equal(1, error.Value);
        Assert.Equal("handler", error.Tags["kind"]);
        Assert.Equal("tenant1", error.Tags["business_id"]);
    }

    [Fact]
    public async Task A_handler_that_throws_does_not_disturb_the_tenants_client()
    {
        var handler = new RecordingHandler { OnHandle = static (_, _, _) => throw new InvalidOperationException("always") };
        await using var h = Create(handlers: [handler]);
        var t = Id("tenant1");
        var client = await h.StartConnectedAsync(t);

        for (int i = 0; i < 5; i++)
        {
            await client.Context.Events.DeliverAsync(new NumberedEvent { Sequence = i }).AsTask().WithTimeout();
        }

        Assert.Equal(TenantState.Connected, h.StateOf(t));
        Assert.Equal(6, h.Logs.GetSnapshot().Count(static r => r.Id.Id == MultiTenantEventIds.HandlerFailed)); // connected event + 5
        Assert.Equal(1, client.ConnectCalls);
    }

    [Fact]
    public async Task A_full_queue_makes_the_writer_wait_and_loses_nothing()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler { OnHandle = (_, e, ct) => e is NumberedEvent { Sequence: 0 } ? gate.WaitAsync(ct) : ValueTask.CompletedTask };
        await using var queues = new QueueFixture();
        var queue = queues.Create("tenant1", [handler], capacity: 4);

        await queue.WriteAsync(new NumberedEvent { Sequence = 0 });
        await gate.Entered; // the reader holds event 0; the queue is empty again
        for (int i = 1; i <= 4; i++)
        {
            Assert.True(queue.WriteAsync(new NumberedEvent { Sequence = i }).IsCompletedSuccessfully, $"event {i} fits");
        }

        Assert.Equal(4, queue.Count);
        var fifth = queue.WriteAsync(new NumberedEvent { Sequence = 5 }).AsTask();
        var sixth = queue.WriteAsync(new NumberedEvent { Sequence = 6 }).AsTask();
        Assert.False(fifth.IsCompleted); // backpressure: the writer waits
        Assert.False(sixth.IsCompleted);

        gate.Open();
        await Task.WhenAll(fifth, sixth).WithTimeout();
        await handler.WaitForCountAsync(Id("tenant1"), 7);
        Assert.Equal(Enumerable.Range(0, 7), handler.Events(Id("tenant1")).Cast<NumberedEvent>().Select(static e => e.Sequence));
    }

    [Fact]
    public async Task A_waiting_writer_can_give_up_through_its_token()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler { OnHandle = (_, _, ct) => gate.WaitAsync(ct) };
        await using var queues = new QueueFixture();
        var queue = queues.Create("tenant1", [handler], capacity: 1);
        await queue.WriteAsync(new NumberedEvent());
        await gate.Entered;
        await queue.WriteAsync(new NumberedEvent());
        using var cts = new CancellationTokenSource();

        var waiting = queue.WriteAsync(new NumberedEvent(), cts.Token).AsTask();
        Assert.False(waiting.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WithTimeout());
        gate.Open();
    }

    [Fact]
    public async Task DeliverAsync_completes_only_after_every_handler_returned()
    {
        var gate = new HandlerGate();
        var first = new RecordingHandler();
        var second = new RecordingHandler { OnHandle = (_, _, ct) => gate.WaitAsync(ct) };
        await using var queues = new QueueFixture();
        var queue = queues.Create("tenant1", [first, second]);
        var message = new MessageEvent { MessageId = "m1" };

        var delivery = queue.DeliverAsync(message).AsTask();

        await gate.Entered;
        Assert.Same(message, Assert.Single(first.Events(Id("tenant1"))));
        Assert.False(delivery.IsCompleted); // the second handler has not returned
        gate.Open();
        await delivery.WithTimeout();
        Assert.Same(message, Assert.Single(second.Events(Id("tenant1"))));
    }

    [Fact]
    public async Task DeliverAsync_completes_even_when_a_handler_throws()
    {
        var handler = new RecordingHandler { OnHandle = static (_, _, _) => throw new InvalidOperationException("boom") };
        await using var queues = new QueueFixture();
        var queue = queues.Create("tenant1", [handler]);

        await queue.DeliverAsync(new MessageEvent()).AsTask().WithTimeout();
    }

    [Fact]
    public async Task DeliverAsync_on_a_completed_queue_fails_at_once_and_queued_deliveries_still_complete()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler { OnHandle = (_, _, ct) => gate.WaitAsync(ct) };
        await using var queues = new QueueFixture();
        var queue = queues.Create("tenant1", [handler]);
        var queued = queue.DeliverAsync(new MessageEvent { MessageId = "before" }).AsTask();
        await gate.Entered;

        queue.Complete();

        await Assert.ThrowsAsync<ChannelClosedException>(() => queue.DeliverAsync(new MessageEvent()).AsTask().WithTimeout());
        await Assert.ThrowsAsync<ChannelClosedException>(() => queue.WriteAsync(new MessageEvent()).AsTask().WithTimeout());
        Assert.False(queued.IsCompleted);
        gate.Open();
        await queued.WithTimeout();
        await queue.Completion.WithTimeout();
    }

    [Fact]
    public async Task DropOldest_policy_drops_the_oldest_events_and_counts_and_logs_every_drop()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler { OnHandle = (_, e, ct) => e is NumberedEvent { Sequence: 0 } ? gate.WaitAsync(ct) : ValueTask.CompletedTask };
        await using var queues = new QueueFixture();
        using var dropped = new MetricCollector<long>(queues.Metrics.Meter, "whatsmeow.events.dropped");
        var queue = queues.Create("tenant1", [handler], capacity: 2, mode: EventQueueFullMode.DropOldest);
        await queue.WriteAsync(new NumberedEvent { Sequence = 0 });
        await gate.Entered;

        var droppedDelivery = queue.DeliverAsync(new NumberedEvent { Sequence = 1 }).AsTask();
        for (int i = 2; i <= 6; i++)
        {
            Assert.True(queue.WriteAsync(new NumberedEvent { Sequence = i }).IsCompletedSuccessfully, "a lossy queue never waits");
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => droppedDelivery.WithTimeout()); // a dropped event is never delivered
        gate.Open();
        await handler.WaitForCountAsync(Id("tenant1"), 3);
        Assert.Equal([0, 5, 6], handler.Events(Id("tenant1")).Cast<NumberedEvent>().Select(static e => e.Sequence));
        Assert.Equal(4, dropped.GetMeasurementSnapshot().Sum(static m => m.Value));
        Assert.All(dropped.GetMeasurementSnapshot(), static m => Assert.Equal("tenant1", m.Tags["business_id"]));
        Assert.Equal(4, queues.Logs.GetSnapshot().Count(static r => r.Id.Id == MultiTenantEventIds.EventDropped));
    }

    [Fact]
    public async Task DropNewest_policy_drops_the_new_events_and_counts_every_drop()
    {
        var gate = new HandlerGate();
        var handler = new RecordingHandler { OnHandle = (_, e, ct) => e is NumberedEvent { Sequence: 0 } ? gate.WaitAsync(ct) : ValueTask.CompletedTask };
        await using var queues = new QueueFixture();
        using var dropped = new MetricCollector<long>(queues.Metrics.Meter, "whatsmeow.events.dropped");
        var queue = queues.Create("tenant1", [handler], capacity: 2, mode: EventQueueFullMode.DropNewest);
        await queue.WriteAsync(new NumberedEvent { Sequence = 0 });
        await gate.Entered;

        for (int i = 1; i <= 5; i++)
        {
            Assert.True(queue.WriteAsync(new NumberedEvent { Sequence = i }).IsCompletedSuccessfully);
        }

        gate.Open();
        await handler.WaitForCountAsync(Id("tenant1"), 3);
        Assert.Equal([0, 1, 2], handler.Events(Id("tenant1")).Cast<NumberedEvent>().Select(static e => e.Sequence));
        Assert.Equal(3, dropped.GetMeasurementSnapshot().Sum(static m => m.Value));
        Assert.Equal(3, queues.Logs.GetSnapshot().Count(static r => r.Id.Id == MultiTenantEventIds.EventDropped));
    }

    [Fact]
    public async Task Inbound_messages_are_counted_per_tenant_once_handled()
    {
        await using var queues = new QueueFixture();
        using var messages = new MetricCollector<long>(queues.Metrics.Meter, "whatsmeow.tenant.messages");
        var queue = queues.Create("tenant1", [new RecordingHandler()]);

        await queue.DeliverAsync(new MessageEvent()).AsTask().WithTimeout();
        await queue.DeliverAsync(new ReceiptEvent()).AsTask().WithTimeout();
        await queue.DeliverAsync(new MessageEvent()).AsTask().WithTimeout();

        var snapshot = messages.GetMeasurementSnapshot();
        Assert.Equal(2, snapshot.Sum(static m => m.Value));
        Assert.All(snapshot, static m => Assert.Equal("in", m.Tags["direction"]));
    }
}
