using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MultiTenant.Diagnostics;

namespace MultiTenant.Events;

/// <summary>
/// One tenant's event queue and its single reader loop, which calls every handler for each event in order.
/// </summary>
internal sealed partial class TenantEventQueue : ITenantEventWriter
{
    // Bounded so that a tenant whose handlers fall behind cannot grow memory without limit. When full, the default Wait mode makes
    // the client's WriteAsync wait (backpressure reaches the protocol, nothing is lost); the opt-in DropOldest/DropNewest policies drop
    // and count instead. One reader (this queue's loop) keeps the tenant's order; SingleReaderQueue says why it is not a Channel<T>.
    private readonly SingleReaderQueue<QueuedEvent> _queue;
    private readonly TenantId _tenant;
    private readonly ITenantEventHandler[] _handlers;
    private readonly TenantMetrics _metrics;
    private readonly KeyValuePair<string, object?> _tenantTag;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationToken _abortToken;
    private readonly string _policyName;
    private readonly TenantTrafficCounter? _traffic;
    private readonly StripedCounter _queued;
    private Task _completion = Task.CompletedTask;

    public TenantEventQueue(
        TenantId tenant,
        int capacity,
        EventQueueFullMode fullMode,
        ITenantEventHandler[] handlers,
        TenantMetrics metrics,
        ILogger logger,
        TimeProvider timeProvider,
        CancellationToken abortToken,
        TenantTrafficCounter? traffic = null)
    {
        _traffic = traffic;
        _tenant = tenant;
        _handlers = handlers;
        _metrics = metrics;
        _tenantTag = metrics.GetTenantTag(tenant);
        _logger = logger;
        _timeProvider = timeProvider;
        _abortToken = abortToken;
        _policyName = fullMode.ToString();
        _queued = metrics.QueuedEvents;
        _queue = new SingleReaderQueue<QueuedEvent>(capacity, fullMode, fullMode == EventQueueFullMode.Wait ? null : OnDropped);
    }

    /// <summary>Events waiting.</summary>
    public int Count => _queue.Count;

    /// <summary>Completes when the queue was completed and every queued event was handled.</summary>
    public Task Completion => _completion;

    /// <summary>Starts the reader loop.</summary>
    public void Start() => _completion = Task.Run(ReadLoopAsync);

    /// <inheritdoc />
    public ValueTask WriteAsync(TenantEvent tenantEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantEvent);
        var pending = _queue.WriteAsync(QueuedEvent.Create(tenantEvent, null), cancellationToken);
        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            _queued.Add(1);
            return default;
        }

        return CountWhenWrittenAsync(pending);
    }

    /// <inheritdoc />
    public async ValueTask DeliverAsync(TenantEvent tenantEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantEvent);
        var delivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.WriteAsync(QueuedEvent.Create(tenantEvent, delivered), cancellationToken).ConfigureAwait(false);
        _queued.Add(1);
        await delivered.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Accepts no more events; the loop handles what is queued, then ends.</summary>
    public void Complete() => _queue.Complete();

    private async ValueTask CountWhenWrittenAsync(ValueTask pending)
    {
        await pending.ConfigureAwait(false);
        _queued.Add(1);
    }

    private async Task ReadLoopAsync()
    {
        var reader = _queue;
        var handlers = _handlers;
        var run = new RunTally(this);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // Metrics are kept per run (the events handled back to back until the queue is empty), in stretches of at most
            // RunTally.MaxEvents: two clock reads, one histogram value (the stretch's mean time per event), one counter add and one
            // queue-depth update per stretch, instead of a clock read, a histogram value and a counter add per event (issue 12: those
            // made routing with metrics collected 3.3x a bare channel; a clock read alone costs 30-120 ns on the benchmarks' VM). When
            // no events wait, a stretch is one event, timed exactly. RunTally says what each metric then means.
            run.Begin();
            while (reader.TryRead(out var item))
            {
                run.Read();
                var tenantEvent = item.Event;
                using var activity = TenantTracing.Source.HasListeners() ? StartHandleActivity(item) : null;
                for (int i = 0; i < handlers.Length; i++)
                {
                    var handler = handlers[i];
                    try
                    {
                        var pending = handler.HandleAsync(_tenant, tenantEvent, _abortToken);
                        if (!pending.IsCompletedSuccessfully)
                        {
                            run.FlushCounts(); // the events handled so far leave the depth before a wait of unknown length
                            await pending.ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !_abortToken.IsCancellationRequested)
                    {
                        TenantTracing.RecordFailure(activity, ex);
                        _metrics.Errors.Add(1, _tenantTag, new KeyValuePair<string, object?>("kind", "handler"));
                        Log.HandlerFailed(_logger, handler.GetType().Name, tenantEvent.GetType().Name, _tenant.Value, ex);
                        (item.Delivered as HandledDelivery)?.RecordFailure(handler, ex);
                    }
                    catch (OperationCanceledException)
                    {
                        // The host's shutdown timeout ran out: the handler was cancelled. The event still counts as delivered
                        // (every handler returned), so a waiting client is released.
                        (item.Delivered as HandledDelivery)?.RecordCancelled();
                    }
                }

                var delivered = item.Delivered;
                bool message = tenantEvent is MessageEvent;
                run.Handled(message, waited: delivered is not null);
                if (message)
                {
                    _traffic?.CountIn();
                }

                delivered?.TrySetResult();
            }

            run.End();
        }
    }

    private void OnDropped(QueuedEvent item)
    {
        _queued.Add(-1);
        _metrics.EventsDropped.Add(1, _tenantTag);
        Log.EventDropped(_logger, _tenant.Value, _policyName, item.Event.GetType().Name);
        item.Delivered?.TrySetCanceled(CancellationToken.None);
    }

    private Activity? StartHandleActivity(QueuedEvent item)
    {
        var parent = item.Parent;
        var activity = parent is null
            ? TenantTracing.Source.StartActivity("tenant handle", ActivityKind.Consumer)
            : TenantTracing.Source.StartActivity("tenant handle", ActivityKind.Consumer, parent.Context);
        activity?.SetTag(TenantTracing.BusinessIdAttribute, _tenant.Value);
        activity?.SetTag(TenantTracing.EventAttribute, item.Event.GetType().Name);
        return activity;
    }

    /// <summary>
    /// A queued event and, in one field so that a queue slot stays two references wide (every tenant holds a chunk of slots): the
    /// waiter to release when its handlers returned, the span that was current when the event was written (the parent of its
    /// <c>tenant handle</c> span, captured only while someone listens to <see cref="TenantTracing.ActivitySourceName"/>), or both.
    /// </summary>
    private readonly record struct QueuedEvent(TenantEvent Event, object? Context)
    {
        public TaskCompletionSource? Delivered => Context as TaskCompletionSource ?? (Context as TracedDelivery)?.Delivered;

        public Activity? Parent => Context as Activity ?? (Context as TracedDelivery)?.Parent;

        public static QueuedEvent Create(TenantEvent tenantEvent, TaskCompletionSource? delivered)
        {
            var parent = TenantTracing.Source.HasListeners() ? Activity.Current : null;
            object? context = parent is null ? delivered : delivered is null ? parent : new TracedDelivery(delivered, parent);
            return new QueuedEvent(tenantEvent, context);
        }
    }

    private sealed record TracedDelivery(TaskCompletionSource Delivered, Activity Parent);
}
