using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Events;

/// <summary>
/// The handler duration histogram, kept per run of events handled back to back (two clock reads per stretch of at most 64 events): one
/// value per stretch, its mean time per event over all handlers.
/// </summary>
public sealed class HandlerDurationTests
{
    [Fact]
    public async Task A_run_of_queued_events_records_its_mean_per_event_and_an_event_after_a_wait_is_timed_alone()
    {
        await using var fixture = new QueueFixture();
        using var durations = new MetricCollector<double>(fixture.Metrics.Meter, "whatsmeow.handler.duration");
        var gate = new HandlerGate();
        var first = new TimedHandler(fixture.Time, gate);
        var second = new TimedHandler(fixture.Time, gate: null) { Fixed = TimeSpan.FromMilliseconds(10) };
        var queue = fixture.Create("tenant1", [first, second]);

        // Events 2 and 3 queue up behind event 1, whose first handler waits at the gate: the loop then drains them back to back, and
        // event 3's waiting caller ends the stretch: (1.01 + 2.01 + 3.01) / 3 s.
        await queue.WriteAsync(new MessageEvent { Text = "1" });
        await gate.Entered;
        await queue.WriteAsync(new MessageEvent { Text = "2" });
        var third = queue.DeliverAsync(new MessageEvent { Text = "3" }).AsTask();
        gate.Open();
        await third.WithTimeout();

        // Time that passes while the queue is empty belongs to no event.
        fixture.Time.Advance(TimeSpan.FromSeconds(5));
        await queue.DeliverAsync(new MessageEvent { Text = "4" }).AsTask().WithTimeout();

        Assert.Equal([2.01, 4.01], durations.GetMeasurementSnapshot().Select(static m => Math.Round(m.Value, 6)).ToArray());
    }

    [Fact]
    public async Task A_long_run_records_one_value_per_64_events()
    {
        await using var fixture = new QueueFixture();
        using var durations = new MetricCollector<double>(fixture.Metrics.Meter, "whatsmeow.handler.duration");
        var gate = new HandlerGate();
        var handler = new TimedHandler(fixture.Time, gate) { Fixed = TimeSpan.FromMilliseconds(1) };
        var queue = fixture.Create("tenant1", [handler]);

        // 1 + 150 events: event "1" holds the gate while the other 150 queue up, then all are handled in one run.
        await queue.WriteAsync(new MessageEvent { Text = "1" });
        await gate.Entered;
        for (int i = 0; i < 149; i++)
        {
            await queue.WriteAsync(new MessageEvent { Text = "2" });
        }

        var last = queue.DeliverAsync(new MessageEvent { Text = "2" }).AsTask();
        gate.Open();
        await last.WithTimeout();

        // Stretches of 64, 64 and the 23 left (ended by the waiting caller), each 1 ms per event.
        Assert.Equal([0.001, 0.001, 0.001], durations.GetMeasurementSnapshot().Select(static m => Math.Round(m.Value, 6)).ToArray());
    }

    /// <summary>Lets fake time pass inside the handler: the event's number in seconds, or <see cref="Fixed"/>.</summary>
    private sealed class TimedHandler(TestTimeProvider time, HandlerGate? gate) : ITenantEventHandler
    {
        public TimeSpan? Fixed { get; init; }

        public async ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            var message = (MessageEvent)tenantEvent;
            if (gate is not null && message.Text == "1")
            {
                await gate.WaitAsync(cancellationToken);
            }

            time.Advance(Fixed ?? TimeSpan.FromSeconds(int.Parse(message.Text!, System.Globalization.CultureInfo.InvariantCulture)));
        }
    }
}
