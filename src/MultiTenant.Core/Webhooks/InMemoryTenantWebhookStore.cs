namespace MultiTenant.Webhooks;

/// <summary>
/// The embedded webhook subscriptions and outbox: in process memory, for a single host and for trying things out. <b>Not durable</b>:
/// subscriptions and events not delivered yet are lost when the process ends; use the PostgreSQL store for an outbox that survives
/// restarts. Same semantics as the durable stores otherwise. Thread-safe (one lock; every operation is short and does no I/O).
/// </summary>
public sealed partial class InMemoryTenantWebhookStore : ITenantWebhookSubscriptionStore, ITenantWebhookOutbox, IWebhookSubscriptionChanges
{
    private const int MaxErrorLength = 1000;

    private readonly Lock _gate = new();
    private readonly Dictionary<TenantId, WebhookSubscription> _subscriptions = [];
    private readonly Dictionary<TenantId, List<Item>> _outbox = [];
    private readonly TimeProvider _time;
    private readonly WebhookSubscriptionChangeCallbacks _changes = new();
    private long _nextId;

    /// <summary>Creates an empty store.</summary>
    /// <param name="timeProvider">The clock of due dates and timestamps; default <see cref="TimeProvider.System"/>.</param>
    public InMemoryTenantWebhookStore(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public ValueTask<WebhookSubscription> PutAsync(TenantId tenant, Uri url, IReadOnlyList<string> eventTypes, ReadOnlyMemory<byte> protectedSecret, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfInvalid(tenant, url, eventTypes, protectedSecret);
        var now = Microseconds(_time.GetUtcNow());
        WebhookSubscription subscription;
        lock (_gate)
        {
            var existing = _subscriptions.GetValueOrDefault(tenant);
            subscription = new WebhookSubscription
            {
                Id = existing?.Id ?? Guid.NewGuid(),
                Tenant = tenant,
                Url = url,
                EventTypes = [.. eventTypes],
                ProtectedSecret = protectedSecret.ToArray(),
                CreatedAt = existing?.CreatedAt ?? now,
                UpdatedAt = now,
            };
            _subscriptions[tenant] = subscription;
        }

        _changes.Raise(tenant);
        return ValueTask.FromResult(subscription);
    }

    /// <inheritdoc />
    public ValueTask<WebhookSubscription?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        lock (_gate)
        {
            return ValueTask.FromResult(_subscriptions.GetValueOrDefault(tenant));
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_subscriptions.Remove(tenant))
            {
                return ValueTask.FromResult(false);
            }

            foreach (var item in Items(tenant))
            {
                if (item.State == ItemState.Pending)
                {
                    item.State = ItemState.Dead;
                    item.LastError = WebhookSubscriptions.DeletedError;
                    item.CompletedAt = now;
                    item.Sender = null;
                }
            }
        }

        _changes.Raise(tenant);
        return ValueTask.FromResult(true);
    }

    /// <inheritdoc />
    public ValueTask<bool> EnqueueAsync(TenantId tenant, string eventId, string eventType, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        WebhookOutboxArguments.ThrowIfInvalid(tenant, eventId, eventType);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_subscriptions.TryGetValue(tenant, out var subscription) || !subscription.Accepts(eventType))
            {
                return ValueTask.FromResult(false);
            }

            var items = Items(tenant);
            foreach (var existing in items)
            {
                if (string.Equals(existing.EventId, eventId, StringComparison.Ordinal))
                {
                    return ValueTask.FromResult(false);
                }
            }

            if (!_outbox.ContainsKey(tenant))
            {
                _outbox[tenant] = items;
            }

            items.Add(new Item(++_nextId, tenant, eventId, eventType, body.ToArray(), now) { NextAttemptAt = now });
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<WebhookOutboxItem?> ClaimAsync(TenantId tenant, Guid sender, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var head = Head(tenant);
            if (head is null || head.NextAttemptAt > now || (head.Sender is { } holder && holder != sender && head.LeasedUntil > now))
            {
                return ValueTask.FromResult<WebhookOutboxItem?>(null);
            }

            head.Sender = sender;
            head.LeasedUntil = now + lease;
            head.Attempts++;
            return ValueTask.FromResult<WebhookOutboxItem?>(head.ToItem());
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, Guid sender, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var item = Held(tenant, itemId, sender);
            if (item is null)
            {
                return ValueTask.FromResult(false);
            }

            item.State = ItemState.Delivered;
            item.CompletedAt = now;
            item.Sender = null;
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> FailAsync(TenantId tenant, long itemId, Guid sender, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(error);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            var item = Held(tenant, itemId, sender);
            if (item is null)
            {
                return ValueTask.FromResult(false);
            }

            item.LastError = error.Length > MaxErrorLength ? error[..MaxErrorLength] : error;
            item.Sender = null;
            if (retryAt is { } due)
            {
                item.NextAttemptAt = due;
            }
            else
            {
                item.State = ItemState.Dead;
                item.CompletedAt = now;
            }

            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<DateTimeOffset?> GetNextAttemptAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        lock (_gate)
        {
            var head = Head(tenant);
            DateTimeOffset? next = head is null ? null
                : head.Sender is not null && head.LeasedUntil > head.NextAttemptAt ? head.LeasedUntil : head.NextAttemptAt;
            return ValueTask.FromResult(next);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<TenantId>> ListDueTenantsAsync(int maxTenants, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTenants, 1);
        var now = _time.GetUtcNow();
        var due = new List<TenantId>();
        lock (_gate)
        {
            foreach (var (tenant, _) in _outbox)
            {
                var head = Head(tenant);
                if (head is not null && head.NextAttemptAt <= now && (head.Sender is null || head.LeasedUntil <= now))
                {
                    due.Add(tenant);
                    if (due.Count == maxTenants)
                    {
                        break;
                    }
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<TenantId>>(due);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<WebhookOutboxItem>> ListDeadAsync(TenantId tenant, long afterId, int limit, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var dead = new List<WebhookOutboxItem>();
        lock (_gate)
        {
            foreach (var item in Items(tenant))
            {
                if (item.State == ItemState.Dead && item.Id > afterId && dead.Count < limit)
                {
                    dead.Add(item.ToItem());
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<WebhookOutboxItem>>(dead);
    }

    /// <inheritdoc />
    public ValueTask<WebhookOutboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        int pending = 0, delivered = 0, dead = 0;
        lock (_gate)
        {
            foreach (var item in Items(tenant))
            {
                _ = item.State switch
                {
                    ItemState.Pending => pending++,
                    ItemState.Delivered => delivered++,
                    _ => dead++,
                };
            }
        }

        return ValueTask.FromResult(new WebhookOutboxCounts(pending, delivered, dead));
    }

    /// <inheritdoc />
    public ValueTask<int> PurgeAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default)
    {
        int purged = 0;
        lock (_gate)
        {
            foreach (var (_, items) in _outbox)
            {
                purged += items.RemoveAll(i => i.State == ItemState.Delivered && i.CompletedAt < completedBefore);
            }
        }

        return ValueTask.FromResult(purged);
    }

    private List<Item> Items(TenantId tenant) => _outbox.TryGetValue(tenant, out var items) ? items : [];

    private Item? Head(TenantId tenant)
    {
        foreach (var item in Items(tenant))
        {
            if (item.State == ItemState.Pending)
            {
                return item;
            }
        }

        return null;
    }

    private Item? Held(TenantId tenant, long itemId, Guid sender)
    {
        foreach (var item in Items(tenant))
        {
            if (item.Id == itemId)
            {
                return item.State == ItemState.Pending && item.Sender == sender ? item : null;
            }
        }

        return null;
    }

    private static DateTimeOffset Microseconds(DateTimeOffset time) => time.AddTicks(-(time.Ticks % TimeSpan.TicksPerMicrosecond));

    private enum ItemState
    {
        Pending,
        Delivered,
        Dead,
    }

    private sealed class Item(long id, TenantId tenant, string eventId, string eventType, byte[] body, DateTimeOffset createdAt)
    {
        public long Id { get; } = id;

        public string EventId { get; } = eventId;

        public ItemState State { get; set; }

        public int Attempts { get; set; }

        public DateTimeOffset NextAttemptAt { get; set; }

        public Guid? Sender { get; set; }

        public DateTimeOffset LeasedUntil { get; set; }

        public string? LastError { get; set; }

        public DateTimeOffset CreatedAt { get; set; } = createdAt;

        public DateTimeOffset CompletedAt { get; set; }

        public WebhookOutboxItem ToItem() => new()
        {
            Id = Id,
            Tenant = tenant,
            EventId = EventId,
            EventType = eventType,
            Body = body,
            CreatedAt = CreatedAt,
            Attempts = Attempts,
            LastError = LastError,
        };
    }
}
