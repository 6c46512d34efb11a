using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Events;

/// <summary>The handler duration histogram, timed back to back while a queue drains (one clock read per handler).</summary>
public sealed class HandlerDurationTests
{
    [Fact]
    public async Task Each_handler_is_timed_alone_when_events_are_handled_back_to_back_and_after_a_wait()
    {
        await using var fixture = new QueueFixture();
        using var durations = new MetricCollector<double>(fixture.Metrics.Meter, "whatsmeow.handler.duration");
        var gate = new HandlerGate();
        var first = new TimedHandler(fixture.Time, gate);
        var second = new TimedHandler(fixture.Time, gate: null) { Fixed = TimeSpan.FromMilliseconds(10) };
        var queue = fixture.Create("tenant1", [first, second]);

        // Events 2 and 3 queue up behind event 1, whose first handler waits at the gate: the loop then drains them back to back.
        await queue.WriteAsync(new MessageEvent { Text = "1" });
        await gate.Entered;
        await queue.WriteAsync(new MessageEvent { Text = "2" });
        var third = queue.DeliverAsync(new MessageEvent { Text = "3" }).AsTask();
        gate.Open();
        await third.WithTimeout();

        // Time that passes while the queue is empty belongs to no handler.
        fixture.Time.Advance(TimeSpan.FromSeconds(5));
        await queue.DeliverAsync(new MessageEvent { Text = "4" }).AsTask().WithTimeout();

        Assert.Equal(
            [1, 0.01, 2, 0.01, 3, 0.01, 4, 0.01],
            durations.GetMeasurementSnapshot().Select(static m => Math.Round(m.Value, 6)).ToArray());
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
