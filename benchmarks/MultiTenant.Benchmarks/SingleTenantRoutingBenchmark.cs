using System.Diagnostics.Metrics;
using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Diagnostics;
using MultiTenant.Events;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Scenario 1, one tenant: the client writes an event, and the operation ends when every handler has run for it. Each invocation
/// routes a burst of <see cref="Events"/> events (the same event object, reused) and ends when the handler has seen the last one,
/// so Mean and Allocated are per event.
/// </summary>
/// <remarks>
/// <para>What is measured is the routing cost per event, not the latency of one thread waking another (which is the operating
/// system's, is the same for any design, and on a shared 2-core machine varies tenfold from run to run). So each invocation first
/// parks the tenant's reader at a gate (a gate event whose handler waits), writes the burst while the reader is parked, opens the
/// gate, and waits until the handler has seen the last event. The three thread hand-offs per invocation are amortised over the
/// burst; what remains per event is the client's write, the reader's read, and the dispatch to every handler.</para>
/// <para>Baseline: a bare bounded <see cref="Channel{T}"/> with the same options and a minimal read loop calling the same handler.
/// The burst is smaller than the queue's capacity (1,024 by default), so the client never waits for room: the steady state.</para>
/// </remarks>
[BenchmarkCategory("1-one-tenant")]
public class SingleTenantRoutingBenchmark
{
    /// <summary>Events per invocation; below the default queue capacity (1,024), which also holds the gate event.</summary>
    public const int Events = 1000;

    private static readonly TenantId Tenant = TenantId.Parse("tenant-1");

    private readonly MessageEvent _event = new() { MessageId = "wamid.1", From = "15551234567", Text = "hi", Timestamp = DateTimeOffset.UnixEpoch };
    private readonly BatchHandler _handler = new();
    private readonly CancellationTokenSource _stop = new();
    private TenantMetrics _metrics = null!;
    private MeterListener? _listener;
    private TenantEventQueue _queue = null!;
    private Channel<TenantEvent> _bare = null!;
    private Task _bareLoop = Task.CompletedTask;
    private SingleReaderQueue<TenantEvent> _bareQueue = null!;
    private Task _bareQueueLoop = Task.CompletedTask;

    [GlobalSetup]
    public void Setup()
    {
        var options = new Hosting.TenantCoordinatorOptions();
        _metrics = new TenantMetrics(null, options.MaxTenantMetricLabels);
        _queue = new TenantEventQueue(
            Tenant, options.EventQueueCapacity, options.EventQueueFullMode, [_handler], _metrics, NullLogger.Instance, TimeProvider.System, _stop.Token);
        _queue.Start();

        _bare = Channel.CreateBounded<TenantEvent>(new BoundedChannelOptions(options.EventQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _bareLoop = Task.Run(BareReadLoopAsync);
        _bareQueue = new SingleReaderQueue<TenantEvent>(options.EventQueueCapacity, options.EventQueueFullMode, onDropped: null);
        _bareQueueLoop = Task.Run(BareQueueReadLoopAsync);
    }

    [GlobalSetup(Target = nameof(TenantEventQueue_with_metrics_collected))]
    public void SetupWithMetrics()
    {
        Setup();

        // What an OpenTelemetry/Prometheus exporter does to the hot path: every instrument of the meter is enabled, so the queue
        // takes timestamps and records the handler duration and the message counter for each event.
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, _metrics.Meter))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        _listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        _listener.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener?.Dispose();
        _queue.Complete();
        _bare.Writer.TryComplete();
        _bareQueue.Complete();
        Task.WaitAll(_queue.Completion, _bareLoop, _bareQueueLoop);
        _metrics.Dispose();
        _stop.Dispose();
        _handler.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Events)]
    public void Bare_bounded_channel() => Burst(new ChannelTarget(_bare.Writer));

    /// <summary>Not a target: the library's queue (<see cref="SingleReaderQueue{T}"/>) bare, beside <see cref="Bare_bounded_channel"/>.</summary>
    [Benchmark(OperationsPerInvoke = Events)]
    public void Bare_single_reader_queue() => Burst(new BareQueueTarget(_bareQueue));

    [Benchmark(OperationsPerInvoke = Events)]
    public void TenantEventQueue_to_every_handler() => Burst(new QueueTarget(_queue));

    [Benchmark(OperationsPerInvoke = Events)]
    public void TenantEventQueue_with_metrics_collected() => TenantEventQueue_to_every_handler();

    /// <summary>One invocation: park the reader at the gate, write the burst, open the gate, wait until the last event is handled.</summary>
    /// <remarks>Generic over a struct, so each target's write is specialised and inlined: the same loop for every design.</remarks>
    private void Burst<TTarget>(TTarget target)
        where TTarget : struct, IBurstTarget
    {
        _handler.Expect(Events);
        target.Write(_handler.Gate);
        _handler.WaitUntilParked();
        for (int i = 0; i < Events; i++)
        {
            target.Write(_event);
        }

        _handler.OpenGateAndWait();
    }

    private interface IBurstTarget
    {
        void Write(TenantEvent tenantEvent);
    }

    private readonly struct ChannelTarget(ChannelWriter<TenantEvent> writer) : IBurstTarget
    {
        public void Write(TenantEvent tenantEvent) => SingleTenantRoutingBenchmark.Write(writer, tenantEvent);
    }

    private readonly struct BareQueueTarget(SingleReaderQueue<TenantEvent> queue) : IBurstTarget
    {
        public void Write(TenantEvent tenantEvent) => SingleTenantRoutingBenchmark.Write(queue, tenantEvent);
    }

    private readonly struct QueueTarget(TenantEventQueue queue) : IBurstTarget
    {
        public void Write(TenantEvent tenantEvent) => SingleTenantRoutingBenchmark.Write(queue, tenantEvent);
    }

    private static void Write(ChannelWriter<TenantEvent> writer, TenantEvent tenantEvent)
    {
        // The same call a client makes on the library's queue: WriteAsync, which waits for room when the channel is full.
        var pending = writer.WriteAsync(tenantEvent);
        if (!pending.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("The channel was full; the burst is sized to fit it.");
        }
    }

    private static void Write(TenantEventQueue queue, TenantEvent tenantEvent)
    {
        // The client's call. It completes synchronously while the queue has room, as it always has here.
        var pending = queue.WriteAsync(tenantEvent);
        if (!pending.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("The queue was full; the burst is sized to fit it.");
        }
    }

    private static void Write(SingleReaderQueue<TenantEvent> queue, TenantEvent tenantEvent)
    {
        var pending = queue.WriteAsync(tenantEvent, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully)
        {
            throw new InvalidOperationException("The queue was full; the burst is sized to fit it.");
        }
    }

    private async Task BareQueueReadLoopAsync()
    {
        var reader = _bareQueue;
        ITenantEventHandler handler = _handler;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var tenantEvent))
            {
                var pending = handler.HandleAsync(Tenant, tenantEvent, CancellationToken.None);
                if (!pending.IsCompletedSuccessfully)
                {
                    await pending.ConfigureAwait(false);
                }
            }
        }
    }

    private async Task BareReadLoopAsync()
    {
        var reader = _bare.Reader;

        // Through the interface, as any dispatcher calls a registered handler (the concrete, sealed type would let the JIT inline it).
        ITenantEventHandler handler = _handler;
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (reader.TryRead(out var tenantEvent))
            {
                var pending = handler.HandleAsync(Tenant, tenantEvent, CancellationToken.None);
                if (!pending.IsCompletedSuccessfully)
                {
                    await pending.ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// Parks the reader on the gate event, counts the burst down and wakes the benchmark thread when it is handled. Allocates nothing.
    /// </summary>
    private sealed class BatchHandler : ITenantEventHandler, IDisposable
    {
        private readonly ManualResetEventSlim _parked = new(false, spinCount: 100);
        private readonly ManualResetEventSlim _open = new(false, spinCount: 100);
        private readonly ManualResetEventSlim _done = new(false, spinCount: 100);
        private int _remaining;

        public TenantEvent Gate { get; } = new TenantConnectedEvent();

        public void Expect(int events)
        {
            _parked.Reset();
            _open.Reset();
            _done.Reset();
            Volatile.Write(ref _remaining, events);
        }

        public void WaitUntilParked() => WaitOrThrow(_parked, "The reader did not reach the gate");

        public void OpenGateAndWait()
        {
            _open.Set();
            WaitOrThrow(_done, "The handler did not see the whole burst");
        }

        public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            if (ReferenceEquals(tenantEvent, Gate))
            {
                _parked.Set();
                WaitOrThrow(_open, "The gate was not opened");
            }
            else if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.Set();
            }

            return ValueTask.CompletedTask;
        }

        public void Dispose()
        {
            _parked.Dispose();
            _open.Dispose();
            _done.Dispose();
        }

        private static void WaitOrThrow(ManualResetEventSlim signal, string what)
        {
            if (!signal.Wait(TimeSpan.FromMinutes(1)))
            {
                throw new TimeoutException(what + " within a minute.");
            }
        }
    }
}
