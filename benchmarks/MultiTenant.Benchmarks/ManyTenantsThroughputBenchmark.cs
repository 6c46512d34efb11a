using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Benchmarks.Infrastructure;
using MultiTenant.Diagnostics;
using MultiTenant.Events;
using MultiTenant.Hosting;

namespace MultiTenant.Benchmarks;

/// <summary>
/// Scenario 2, many tenants: <see cref="Tenants"/> tenants produce at once, and the operation ends when all
/// <see cref="TotalEvents"/> events were handled. Mean is per event, so Op/s is the aggregate events per second.
/// </summary>
/// <remarks>
/// <para>Every tenant is a producer on the thread pool (like a client's receive loop) writing its own share of the events, numbered,
/// in one burst. The same handler checks, for every event, that no later event of its tenant was handled before it: the library
/// must keep each tenant's order (the run fails loudly if it does not); the baseline does not, and the "Out of order" column says
/// how often it broke it.</para>
/// <para>Baseline: the reference design's dispatch, a new task per handler per event (<c>Task.Run(() =&gt; handler.HandleAsync(...))</c>),
/// unordered.</para>
/// </remarks>
[BenchmarkCategory("2-many-tenants")]
public class ManyTenantsThroughputBenchmark
{
    /// <summary>Events handled per invocation, over all tenants.</summary>
    public const int TotalEvents = 200_000;

    private readonly CancellationTokenSource _stop = new();
    private OrderCheckingHandler _handler = null!;
    private ITenantEventHandler[] _handlers = null!;
    private TenantId[] _tenants = null!;
    private SequencedEvent[][] _events = null!;
    private TenantMetrics _metrics = null!;
    private TenantEventQueue[] _queues = [];
    private Channel<TenantEvent>[] _bareChannels = [];
    private Task[] _bareLoops = [];
    private SingleReaderQueue<TenantEvent>[] _bareQueues = [];
    private IThreadPoolWorkItem[] _producers = [];
    private string _method = string.Empty;
    private long _handled;
    private long _outOfOrder;

    [Params(1_000, 10_000)]
    public int Tenants { get; set; }

    private int EventsPerTenant => TotalEvents / Tenants;

    [GlobalSetup(Target = nameof(Per_event_task_dispatch))]
    public void SetupBaseline()
    {
        SetupEvents();
        _producers = new IThreadPoolWorkItem[Tenants];
        for (int t = 0; t < Tenants; t++)
        {
            _producers[t] = new TaskPerEventProducer(_tenants[t], _events[t], _handlers);
        }
    }

    [GlobalSetup(Target = nameof(TenantEventQueue_per_tenant))]
    public void SetupQueues()
    {
        SetupEvents();
        var options = new TenantCoordinatorOptions();
        if (EventsPerTenant > options.EventQueueCapacity)
        {
            throw new InvalidOperationException("A tenant's burst must fit its queue: the producers do not wait for room.");
        }

        _metrics = new TenantMetrics(null, options.MaxTenantMetricLabels);
        _queues = new TenantEventQueue[Tenants];
        _producers = new IThreadPoolWorkItem[Tenants];
        for (int t = 0; t < Tenants; t++)
        {
            var queue = new TenantEventQueue(
                _tenants[t], options.EventQueueCapacity, options.EventQueueFullMode, _handlers, _metrics, NullLogger.Instance, TimeProvider.System, _stop.Token);
            queue.Start();
            _queues[t] = queue;
            _producers[t] = new QueueProducer(queue, _events[t]);
        }
    }

    [GlobalSetup(Target = nameof(Bare_bounded_channel_per_tenant))]
    public void SetupBareChannels()
    {
        SetupEvents();
        var options = new TenantCoordinatorOptions();
        _bareLoops = new Task[Tenants];
        _producers = new IThreadPoolWorkItem[Tenants];
        _bareChannels = new Channel<TenantEvent>[Tenants];
        for (int t = 0; t < Tenants; t++)
        {
            var channel = Channel.CreateBounded<TenantEvent>(new BoundedChannelOptions(options.EventQueueCapacity)
            {
                SingleReader = true,
                SingleWriter = false,
                AllowSynchronousContinuations = false,
                FullMode = BoundedChannelFullMode.Wait,
            });
            var tenant = _tenants[t];
            _bareChannels[t] = channel;
            _bareLoops[t] = Task.Run(() => BareReadLoopAsync(tenant, channel.Reader, _handler));
            _producers[t] = new ChannelProducer(channel.Writer, _events[t]);
        }
    }

    [GlobalSetup(Target = nameof(Bare_single_reader_queue_per_tenant))]
    public void SetupBareQueues()
    {
        SetupEvents();
        var options = new TenantCoordinatorOptions();
        _bareLoops = new Task[Tenants];
        _producers = new IThreadPoolWorkItem[Tenants];
        _bareQueues = new SingleReaderQueue<TenantEvent>[Tenants];
        for (int t = 0; t < Tenants; t++)
        {
            var queue = new SingleReaderQueue<TenantEvent>(options.EventQueueCapacity, options.EventQueueFullMode, onDropped: null);
            var tenant = _tenants[t];
            _bareQueues[t] = queue;
            _bareLoops[t] = Task.Run(() => BareQueueReadLoopAsync(tenant, queue, _handler));
            _producers[t] = new BareQueueProducer(queue, _events[t]);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var channel in _bareChannels)
        {
            channel.Writer.TryComplete();
        }

        foreach (var queue in _bareQueues)
        {
            queue.Complete();
        }

        Task.WaitAll(_bareLoops);

        foreach (var queue in _queues)
        {
            queue.Complete();
        }

        foreach (var queue in _queues)
        {
            queue.Completion.GetAwaiter().GetResult();
        }

        _metrics?.Dispose();
        _stop.Dispose();
        _handler.Dispose();
        if (_handled > 0)
        {
            ReportedMetrics.Report(ReportedMetrics.OutOfOrder, typeof(ManyTenantsThroughputBenchmark), _method, Tenants.ToString(System.Globalization.CultureInfo.InvariantCulture), 100.0 * _outOfOrder / _handled);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = TotalEvents)]
    public void Per_event_task_dispatch() => Run(nameof(Per_event_task_dispatch), orderRequired: false);

    /// <summary>Not a target: the floor of any channel-per-tenant design, a bare bounded channel and read loop per tenant.</summary>
    [Benchmark(OperationsPerInvoke = TotalEvents)]
    public void Bare_bounded_channel_per_tenant() => Run(nameof(Bare_bounded_channel_per_tenant), orderRequired: true);

    /// <summary>Not a target: the library's queue (<see cref="SingleReaderQueue{T}"/>) bare, beside the bare channel.</summary>
    [Benchmark(OperationsPerInvoke = TotalEvents)]
    public void Bare_single_reader_queue_per_tenant() => Run(nameof(Bare_single_reader_queue_per_tenant), orderRequired: true);

    [Benchmark(OperationsPerInvoke = TotalEvents)]
    public void TenantEventQueue_per_tenant() => Run(nameof(TenantEventQueue_per_tenant), orderRequired: true);

    private void Run(string method, bool orderRequired)
    {
        _method = method;
        _handler.Expect(EventsPerTenant);
        var producers = _producers;
        for (int t = 0; t < producers.Length; t++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(producers[t], preferLocal: false);
        }

        _handler.Wait();
        long outOfOrder = _handler.OutOfOrder;
        _handled += TotalEvents;
        _outOfOrder += outOfOrder;
        if (orderRequired && outOfOrder != 0)
        {
            throw new InvalidOperationException(
                $"Per-tenant order was broken: {outOfOrder} of {TotalEvents} events were handled after a later event of the same tenant.");
        }
    }

    private void SetupEvents()
    {
        if (TotalEvents % Tenants != 0)
        {
            throw new InvalidOperationException($"{TotalEvents} events do not split evenly over {Tenants} tenants.");
        }

        _tenants = Infrastructure.Tenants.Create(Tenants);
        _events = new SequencedEvent[Tenants][];
        for (int t = 0; t < Tenants; t++)
        {
            _events[t] = new SequencedEvent[EventsPerTenant];
            for (int i = 0; i < EventsPerTenant; i++)
            {
                _events[t][i] = new SequencedEvent(t, i) { MessageId = "wamid." + i, From = "15551234567", Text = "hi" };
            }
        }

        _handler = new OrderCheckingHandler(Tenants);
        _handlers = [_handler];
    }

    /// <summary>A message numbered within its tenant.</summary>
    private sealed class SequencedEvent(int tenantIndex, long sequence) : MessageEvent
    {
        public int TenantIndex { get; } = tenantIndex;

        public long Sequence { get; } = sequence;
    }

    /// <summary>A tenant's client: writes the tenant's events, in order, into its queue.</summary>
    private sealed class QueueProducer(TenantEventQueue queue, SequencedEvent[] events) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            for (int i = 0; i < events.Length; i++)
            {
                var pending = queue.WriteAsync(events[i]);
                if (!pending.IsCompletedSuccessfully)
                {
                    throw new InvalidOperationException("The queue was full; the burst is sized to fit it.");
                }
            }
        }
    }

    /// <summary>A tenant's client writing into a bare channel.</summary>
    private sealed class ChannelProducer(ChannelWriter<TenantEvent> writer, SequencedEvent[] events) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            for (int i = 0; i < events.Length; i++)
            {
                var pending = writer.WriteAsync(events[i]);
                if (!pending.IsCompletedSuccessfully)
                {
                    throw new InvalidOperationException("The channel was full; the burst is sized to fit it.");
                }
            }
        }
    }

    /// <summary>A tenant's client writing into a bare <see cref="SingleReaderQueue{T}"/>.</summary>
    private sealed class BareQueueProducer(SingleReaderQueue<TenantEvent> queue, SequencedEvent[] events) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            for (int i = 0; i < events.Length; i++)
            {
                var pending = queue.WriteAsync(events[i], CancellationToken.None);
                if (!pending.IsCompletedSuccessfully)
                {
                    throw new InvalidOperationException("The queue was full; the burst is sized to fit it.");
                }
            }
        }
    }

    private static async Task BareQueueReadLoopAsync(TenantId tenant, SingleReaderQueue<TenantEvent> reader, ITenantEventHandler handler)
    {
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var tenantEvent))
            {
                var pending = handler.HandleAsync(tenant, tenantEvent, CancellationToken.None);
                if (!pending.IsCompletedSuccessfully)
                {
                    await pending.ConfigureAwait(false);
                }
            }
        }
    }

    private static async Task BareReadLoopAsync(TenantId tenant, ChannelReader<TenantEvent> reader, ITenantEventHandler handler)
    {
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (reader.TryRead(out var tenantEvent))
            {
                var pending = handler.HandleAsync(tenant, tenantEvent, CancellationToken.None);
                if (!pending.IsCompletedSuccessfully)
                {
                    await pending.ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The reference design: every event of the tenant starts a new task per handler.</summary>
    private sealed class TaskPerEventProducer(TenantId tenant, SequencedEvent[] events, ITenantEventHandler[] handlers) : IThreadPoolWorkItem
    {
        public void Execute()
        {
            for (int i = 0; i < events.Length; i++)
            {
                var tenantEvent = events[i];
                foreach (var handler in handlers)
                {
                    _ = Task.Run(() => handler.HandleAsync(tenant, tenantEvent, CancellationToken.None).AsTask());
                }
            }
        }
    }

    /// <summary>
    /// Counts events down per tenant, and counts those handled after a later event of their tenant (order broken). The same for both
    /// designs. Its own cost is kept off shared cache lines: the one shared counter is touched once per tenant, not once per event,
    /// and each tenant's two fields sit alone on their cache line (<see cref="Stride"/> longs apart), so that two tenants handled at
    /// once on the two cores do not invalidate each other's line (false sharing, which the handler would otherwise add to every
    /// design's cost per event).
    /// </summary>
    private sealed class OrderCheckingHandler(int tenants) : ITenantEventHandler, IDisposable
    {
        private const int Stride = 16; // 128 bytes: a cache line and the adjacent-line prefetch
        private readonly long[] _last = new long[tenants * Stride];
        private readonly long[] _remainingPerTenant = new long[tenants * Stride];
        private readonly ManualResetEventSlim _done = new(false, spinCount: 100);
        private int _remainingTenants;
        private long _outOfOrder;

        public long OutOfOrder => Volatile.Read(ref _outOfOrder);

        public void Expect(int eventsPerTenant)
        {
            Array.Fill(_last, -1);
            Array.Fill(_remainingPerTenant, eventsPerTenant);
            Volatile.Write(ref _outOfOrder, 0);
            _done.Reset();
            Volatile.Write(ref _remainingTenants, tenants);
        }

        public void Wait()
        {
            if (!_done.Wait(TimeSpan.FromMinutes(2)))
            {
                throw new TimeoutException($"{Volatile.Read(ref _remainingTenants)} of {tenants} tenants still had events to handle after two minutes.");
            }
        }

        public ValueTask HandleAsync(TenantId tenant, TenantEvent tenantEvent, CancellationToken cancellationToken)
        {
            var sequenced = (SequencedEvent)tenantEvent;
            int index = sequenced.TenantIndex * Stride;

            // Interlocked because the baseline runs one tenant's handlers concurrently; uncontended for the library (one reader per tenant).
            long previous = Interlocked.Exchange(ref _last[index], sequenced.Sequence);
            if (previous >= sequenced.Sequence)
            {
                Interlocked.Increment(ref _outOfOrder);
            }

            if (Interlocked.Decrement(ref _remainingPerTenant[index]) == 0 && Interlocked.Decrement(ref _remainingTenants) == 0)
            {
                _done.Set();
            }

            return ValueTask.CompletedTask;
        }

        public void Dispose() => _done.Dispose();
    }
}
