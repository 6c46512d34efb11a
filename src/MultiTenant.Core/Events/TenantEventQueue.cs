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
        return _queue.WriteAsync(QueuedEvent.Create(tenantEvent, null), cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeliverAsync(TenantEvent tenantEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tenantEvent);
        var delivered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _queue.WriteAsync(QueuedEvent.Create(tenantEvent, delivered), cancellationToken).ConfigureAwait(false);
        await delivered.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Accepts no more events; the loop handles what is queued, then ends.</summary>
    public void Complete() => _queue.Complete();

    private async Task ReadLoopAsync()
    {
        var reader = _queue;
        var handlers = _handlers;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            // When handler durations are measured, they are timed back to back while the loop drains: a handler's start is the end of
            // the handler before it (of this event or the previous one), so each handler costs one clock read instead of two. A clock
            // read can cost more than routing an event (about 120 ns on the 2-core VM of benchmarks/README.md); what the shared read
            // adds to a duration is the dequeue of the next event, nanoseconds against a smallest histogram bucket of 100 µs.
            // After waiting for events, the first start is read afresh.
            long last = 0;
            while (reader.TryRead(out var item))
            {
                var tenantEvent = item.Event;
                using var activity = TenantTracing.Source.HasListeners() ? StartHandleActivity(item) : null;
                for (int i = 0; i < handlers.Length; i++)
                {
                    var handler = handlers[i];
                    long started = _metrics.HandlerDuration.Enabled ? (last != 0 ? last : _timeProvider.GetTimestamp()) : 0;
                    try
                    {
                        var pending = handler.HandleAsync(_tenant, tenantEvent, _abortToken);
                        if (!pending.IsCompletedSuccessfully)
                        {
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

                    if (started != 0)
                    {
                        last = _timeProvider.GetTimestamp();
                        _metrics.HandlerDuration.Record(_timeProvider.GetElapsedTime(started, last).TotalSeconds, _tenantTag);
                    }
                    else
                    {
                        last = 0;
                    }
                }

                if (tenantEvent is MessageEvent)
                {
                    _metrics.Messages.Add(1, _tenantTag, new KeyValuePair<string, object?>("direction", "in"));
                    _traffic?.CountIn();
                }

                item.Delivered?.TrySetResult();
            }
        }
    }

    private void OnDropped(QueuedEvent item)
    {
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
