using Microsoft.Extensions.Logging;
using MultiTenant.Clients;
using MultiTenant.Diagnostics;
using MultiTenant.Events;

namespace MultiTenant.Inbox;

/// <summary>
/// Delivers one tenant's inbox to its handlers for one run of the tenant on this host: claims items in order, writes each into the
/// tenant's event queue, and marks it done once the handlers are through with it; a failed item is retried with backoff (the tenant's
/// later items wait) and becomes a dead letter after <see cref="InboxDeliveryOptions.MaxAttempts"/>. A client of a webhook-based backend
/// creates one when it is created and disposes it with itself, so exactly the host that runs the tenant consumes its inbox.
/// </summary>
/// <remarks>
/// <para>At-least-once: an item is marked done only after delivery; if the process dies while its handlers run, the next run delivers
/// it again with the same <see cref="InboxItem.Key"/> (the event id to de-duplicate by).</para>
/// <para>Stopping (<see cref="DisposeAsync"/>) stops claiming, waits for the item being delivered, and frees the claims of the items
/// not delivered yet, so the next run (here or on the tenant's next owner) starts with them. Nothing is lost or handled twice by an
/// orderly stop or handover.</para>
/// </remarks>
public sealed class TenantInboxConsumer : IAsyncDisposable
{
    private static readonly TimeSpan StoreRetryDelay = TimeSpan.FromSeconds(1);

    private readonly ITenantInbox _inbox;
    private readonly Dictionary<string, IInboxEventDecoder> _decoders = new(StringComparer.Ordinal);
    private readonly TenantClientContext _context;
    private readonly InboxDeliveryOptions _options;
    private readonly InboxMetrics? _metrics;
    private readonly InboxConsumer _consumer;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private int _state; // 0 new, 1 running, 2 disposed

    /// <summary>Creates the consumer of <see cref="TenantClientContext.BusinessId"/>'s inbox for the run <paramref name="context"/> belongs to.</summary>
    /// <param name="inbox">The inbox.</param>
    /// <param name="decoders">The decoders of the sources the tenant's items come from (one per <see cref="IInboxEventDecoder.Source"/>).</param>
    /// <param name="context">The run's context: tenant, ownership epoch, event writer, clock and logger.</param>
    /// <param name="options">The delivery options (copied).</param>
    /// <param name="metrics">Where deliveries are counted; optional.</param>
    public TenantInboxConsumer(ITenantInbox inbox, IEnumerable<IInboxEventDecoder> decoders, TenantClientContext context, InboxDeliveryOptions options, InboxMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(inbox);
        ArgumentNullException.ThrowIfNull(decoders);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        _inbox = inbox;
        foreach (var decoder in decoders)
        {
            _decoders[decoder.Source] = decoder;
        }

        _context = context;
        _options = new InboxDeliveryOptions
        {
            MaxAttempts = options.MaxAttempts,
            RetryBaseDelay = options.RetryBaseDelay,
            RetryMaxDelay = options.RetryMaxDelay,
            PollInterval = options.PollInterval,
            BatchSize = options.BatchSize,
            CompletedRetention = options.CompletedRetention,
        };
        _metrics = metrics;
        _consumer = new InboxConsumer(Guid.NewGuid(), context.OwnershipEpoch);
    }

    /// <summary>Starts consuming in the background. Idempotent.</summary>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) == 0)
        {
            _loop = Task.Run(() => RunAsync(_stop.Token));
        }
    }

    /// <summary>Stops: no new claims; waits for the item being delivered; frees the claims of the rest.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _state, 2) == 2)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private TenantId Tenant => _context.BusinessId;

    private TimeProvider Time => _context.TimeProvider;

    private async Task RunAsync(CancellationToken stop)
    {
        bool reset = false;
        DateTimeOffset? retryAt = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // Listening before claiming: a write between an empty claim and the wait still wakes us.
                using var cycle = CancellationTokenSource.CreateLinkedTokenSource(stop);
                var written = _inbox.WaitForItemsAsync(Tenant, cycle.Token);
                TimeSpan wait;
                try
                {
                    if (!reset)
                    {
                        // What an earlier run (stopped, crashed, or on the previous owner) left claimed is ours to deliver now.
                        await _inbox.ResetClaimsAsync(Tenant, _consumer.OwnershipEpoch, stop).ConfigureAwait(false);
                        reset = true;
                    }

                    var items = await _inbox.ClaimAsync(Tenant, _consumer, _options.BatchSize, stop).ConfigureAwait(false);
                    if (items.Count > 0)
                    {
                        retryAt = await DeliverAsync(items, stop).ConfigureAwait(false);
                        wait = retryAt is { } due ? due - Time.GetUtcNow() : TimeSpan.Zero;
                    }
                    else
                    {
                        // Nothing due: the next poll, or sooner the retry of a failed head item.
                        wait = retryAt is { } due && due - Time.GetUtcNow() < _options.PollInterval ? due - Time.GetUtcNow() : _options.PollInterval;
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The store failed (database down): back off and try again; the claims, if any, are still ours.
                    InboxLog.StoreFailed(_context.Logger, Tenant.Value, ex);
                    wait = StoreRetryDelay;
                }

                await WaitAsync(written, wait, stop).ConfigureAwait(false);
                await cycle.CancelAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            await ReleaseClaimsAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Delivers a batch in order. Returns when a failed item is due again, or <see langword="null"/> to claim again at once.</summary>
    private async Task<DateTimeOffset?> DeliverAsync(IReadOnlyList<InboxItem> items, CancellationToken stop)
    {
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (stop.IsCancellationRequested)
            {
                await ReleaseAsync(items, i).ConfigureAwait(false); // not delivered: the next run starts with them, attempts unchanged
                return null;
            }

            var tenantEvent = _decoders.TryGetValue(item.Source, out var decoder) ? Decode(decoder, item) : null;
            if (tenantEvent is null)
            {
                await _inbox.FailAsync(Tenant, item.Id, _consumer, "The item could not be decoded (unknown source or unreadable payload).", retryAt: null, CancellationToken.None)
                    .ConfigureAwait(false);
                _metrics?.Delivered(InboxMetrics.DeadLetter);
                InboxLog.DeadLettered(_context.Logger, Tenant.Value, item.Id, item.Attempts);
                continue;
            }

            string? failure = await HandleAsync(tenantEvent).ConfigureAwait(false);
            if (failure is null)
            {
                // Not cancellable: the handlers ran, so recording it must not be skipped by a stop.
                await _inbox.CompleteAsync(Tenant, item.Id, _consumer, CancellationToken.None).ConfigureAwait(false);
                _metrics?.Delivered(InboxMetrics.Done, Time.GetUtcNow() - item.ReceivedAt);
                continue;
            }

            if (failure == QueueClosed)
            {
                // The tenant is stopping: the item (its handlers were cancelled, not failed) and the rest of the batch stay pending for
                // the next run, their claims freed and their attempts not counted.
                await ReleaseAsync(items, i).ConfigureAwait(false);
                return Time.GetUtcNow() + _options.PollInterval;
            }

            if (item.Attempts >= _options.MaxAttempts)
            {
                await _inbox.FailAsync(Tenant, item.Id, _consumer, failure, retryAt: null, CancellationToken.None).ConfigureAwait(false);
                _metrics?.Delivered(InboxMetrics.DeadLetter);
                InboxLog.DeadLettered(_context.Logger, Tenant.Value, item.Id, item.Attempts);
                continue;
            }

            var delay = _options.RetryDelay(item.Attempts);
            var due = Time.GetUtcNow() + delay;
            await _inbox.FailAsync(Tenant, item.Id, _consumer, failure, due, CancellationToken.None).ConfigureAwait(false);
            _metrics?.Delivered(InboxMetrics.Failed);
            InboxLog.DeliveryFailed(_context.Logger, Tenant.Value, item.Id, item.Attempts, delay);

            // The later items of the batch wait behind this one: free their claims (they were not attempted) and wait for its retry.
            await ReleaseAsync(items, i + 1).ConfigureAwait(false);
            return due;
        }

        return null;
    }

    /// <summary>Frees the claims of <paramref name="items"/> from <paramref name="from"/> on, without counting them as attempts.</summary>
    private async Task ReleaseAsync(IReadOnlyList<InboxItem> items, int from)
    {
        if (from >= items.Count)
        {
            return;
        }

        var ids = new long[items.Count - from];
        for (int i = from; i < items.Count; i++)
        {
            ids[i - from] = items[i].Id;
        }

        await _inbox.ReleaseAsync(Tenant, ids, _consumer, CancellationToken.None).ConfigureAwait(false);
    }

    private const string QueueClosed = "queue closed";

    /// <summary>Hands the event to the tenant's handlers. Returns <see langword="null"/> when they are through, or why not.</summary>
    private async Task<string?> HandleAsync(TenantEvent tenantEvent)
    {
        try
        {
            if (_context.Events is not IHandledEventWriter handled)
            {
                await _context.Events.DeliverAsync(tenantEvent, CancellationToken.None).ConfigureAwait(false);
                return null;
            }

            var outcome = await handled.DeliverHandledAsync(tenantEvent, CancellationToken.None).ConfigureAwait(false);
            if (outcome.Cancelled)
            {
                return QueueClosed; // cancelled by the shutdown: not handled, delivered again by the next run
            }

            return outcome.Succeeded ? null : outcome.Describe();
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            return QueueClosed;
        }
        catch (OperationCanceledException)
        {
            // A lossy queue policy dropped it: it was not handled.
            return "The tenant's event queue dropped the event.";
        }
    }

    private TenantEvent? Decode(IInboxEventDecoder decoder, InboxItem item)
    {
        try
        {
            return decoder.Decode(item);
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or System.Text.Json.JsonException or ArgumentException)
        {
            InboxLog.DecodeFailed(_context.Logger, Tenant.Value, item.Id, ex.GetType().Name);
            return null;
        }
    }

    /// <summary>Waits until <paramref name="written"/> completes (new items), <paramref name="delay"/> passes, or the stop.</summary>
    private async Task WaitAsync(Task written, TimeSpan delay, CancellationToken stop)
    {
        if (delay <= TimeSpan.Zero || stop.IsCancellationRequested)
        {
            return;
        }

        try
        {
            await written.WaitAsync(delay, Time, stop).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The delay or the poll interval ran out.
        }
        catch (OperationCanceledException)
        {
            // Stopping (or the cycle's wait was cancelled).
        }
    }

    private async Task ReleaseClaimsAsync()
    {
        try
        {
            await _inbox.ResetClaimsAsync(Tenant, _consumer.OwnershipEpoch, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The next consumer of the tenant resets them when it starts.
            InboxLog.StoreFailed(_context.Logger, Tenant.Value, ex);
        }
    }
}
