using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Webhooks;

/// <summary>
/// Which event types each tenant's subscription accepts (or that it has none), remembered for
/// <see cref="WebhookDeliveryOptions.SubscriptionCacheDuration"/> and forgotten as soon as <see cref="IWebhookSubscriptionChanges"/>
/// announces a change of the tenant's subscription on any host, so that <see cref="WebhookEventHandler"/> asks the outbox only for
/// events a subscription accepts: a tenant without one costs no store call per event. Without a change feed (a store of one's own that
/// does not announce changes) or with a duration of zero nothing is remembered, and every event goes to the outbox, whose own check
/// decides. The outbox checks again when it queues, so a stale "accepts" costs one store call, never a wrong delivery.
/// </summary>
internal sealed class WebhookSubscriptionCache : IDisposable
{
    private readonly ITenantWebhookSubscriptionStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _duration;
    private readonly IDisposable? _registration;
    private readonly ConcurrentDictionary<TenantId, Entry> _entries = new();

    // Counts announcements. A read of the store that overlapped one is not kept: what it read may predate the change.
    private long _changes;

    public WebhookSubscriptionCache(
        ITenantWebhookSubscriptionStore store, IOptions<WebhookDeliveryOptions> options, TimeProvider time, IWebhookSubscriptionChanges? changes = null)
    {
        _store = store;
        _time = time;
        _duration = changes is null ? TimeSpan.Zero : options.Value.SubscriptionCacheDuration;
        if (_duration > TimeSpan.Zero)
        {
            _registration = changes!.Subscribe(OnChanged);
        }
    }

    /// <summary>
    /// Whether an event of <paramref name="eventType"/> may be queued for <paramref name="tenant"/>: <see langword="false"/> only when
    /// a remembered (or just read) subscription state says none accepts it. Completes synchronously, without allocating, while remembered.
    /// </summary>
    public ValueTask<bool> MayAcceptAsync(TenantId tenant, string eventType, CancellationToken cancellationToken)
    {
        if (_duration <= TimeSpan.Zero)
        {
            return ValueTask.FromResult(true);
        }

        if (_entries.TryGetValue(tenant, out var entry) && entry.Expires > _time.GetUtcNow())
        {
            return ValueTask.FromResult(entry.EventTypes is { } types && WebhookEventTypes.Matches(types, eventType));
        }

        return LoadAsync(tenant, eventType, cancellationToken);
    }

    public void Dispose() => _registration?.Dispose();

    private async ValueTask<bool> LoadAsync(TenantId tenant, string eventType, CancellationToken cancellationToken)
    {
        long before = Interlocked.Read(ref _changes);
        var subscription = await _store.GetAsync(tenant, cancellationToken).ConfigureAwait(false);
        var entry = new Entry(subscription?.EventTypes, _time.GetUtcNow() + _duration);
        _entries[tenant] = entry;

        // An announcement since the read began may be about this tenant: forget what was read (unless another read replaced it).
        // An announcement after this check removes the entry itself.
        if (Interlocked.Read(ref _changes) != before)
        {
            _entries.TryRemove(new KeyValuePair<TenantId, Entry>(tenant, entry));
        }

        return subscription?.Accepts(eventType) == true;
    }

    private void OnChanged(TenantId? tenant)
    {
        Interlocked.Increment(ref _changes);
        if (tenant is { } changed)
        {
            _entries.TryRemove(changed, out _);
        }
        else
        {
            _entries.Clear();
        }
    }

    /// <summary>A tenant's remembered subscription: its event types, or <see langword="null"/> for none; until <see cref="Expires"/>.</summary>
    private sealed record Entry(IReadOnlyList<string>? EventTypes, DateTimeOffset Expires);
}
