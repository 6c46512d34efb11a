using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using MultiTenant.Events;
using MultiTenant.Tests.Infrastructure;

namespace MultiTenant.Tests.Events;

/// <summary>
/// The queue-depth gauge is a sum the queues keep as they write, read and drop (issue 12), not a walk over every tenant's queue at
/// each scrape: these queues have no coordinator to walk them, and the gauge still follows them.
/// </summary>
public sealed class QueueDepthTests
{
    [Fact]
    public async Task The_depth_follows_writes_reads_and_drops_of_every_queue_and_returns_to_zero_once_handled()
    {
        await using var fixture = new QueueFixture();
        fixture.Metrics.RegisterObservers(static () => default, static () => null);
        using var depth = new MetricCollector<long>(fixture.Metrics.Meter, "whatsmeow.queue.depth");
        var gates = new[] { new HandlerGate(), new HandlerGate(), new HandlerGate() };
        var queues = new[]
        {
            fixture.Create("wait", [Gated(gates[0])]),
            fixture.Create("newest", [Gated(gates[1])], capacity: 2, mode: EventQueueFullMode.DropNewest),
            fixture.Create("oldest", [Gated(gates[2])], capacity: 2, mode: EventQueueFullMode.DropOldest),
        };

        // Each queue's event 0 is taken and held by its handler (not waiting any more); then 4 more each: the lossless queue keeps
        // all 4, the lossy ones 2 of them (capacity 2).
        for (int q = 0; q < queues.Length; q++)
        {
            await queues[q].WriteAsync(new NumberedEvent { Sequence = 0 });
            await gates[q].Entered;
        }

        foreach (var queue in queues)
        {
            for (int i = 1; i <= 4; i++)
            {
                Assert.True(queue.WriteAsync(new NumberedEvent { Sequence = i }).IsCompletedSuccessfully);
            }
        }

        depth.RecordObservableInstruments();
        Assert.Equal(4 + 2 + 2, depth.LastMeasurement!.Value);

        foreach (var gate in gates)
        {
            gate.Open();
        }

        foreach (var queue in queues)
        {
            await queue.DeliverAsync(new NumberedEvent { Sequence = 5 }).AsTask().WithTimeout();
        }

        depth.RecordObservableInstruments();
        Assert.Equal(0, depth.LastMeasurement!.Value);
    }

    private static RecordingHandler Gated(HandlerGate gate) =>
        new() { OnHandle = (_, e, ct) => e is NumberedEvent { Sequence: 0 } ? gate.WaitAsync(ct) : ValueTask.CompletedTask };
}
