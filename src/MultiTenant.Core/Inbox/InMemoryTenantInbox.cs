namespace MultiTenant.Inbox;

/// <summary>
/// The embedded <see cref="ITenantInbox"/>: in process memory, for a single host and for trying things out. <b>Not durable</b>: items
/// (pending ones and dead letters included) are lost when the process ends, so a delivery acknowledged to the provider can be lost
/// with it; use the PostgreSQL store for that guarantee. Same semantics as the durable stores otherwise. Thread-safe (one lock; every
/// operation is short and does no I/O).
/// </summary>
public sealed partial class InMemoryTenantInbox : ITenantInbox, MultiTenant.Storage.ITenantPurgeable
{
    private const int MaxErrorLength = 1000;

    private readonly Lock _gate = new();
    private readonly Dictionary<TenantId, TenantItems> _tenants = [];
    private readonly Dictionary<TenantAddress, List<InboxWrite>> _unrouted = [];
    private readonly InboxSignals _signals = new();
    private readonly TimeProvider _time;
    private long _nextId;
    private int _unroutedCount;

    /// <summary>Creates an empty inbox.</summary>
    /// <param name="timeProvider">The clock of due dates and timestamps; default <see cref="TimeProvider.System"/>.</param>
    public InMemoryTenantInbox(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public ValueTask<InboxWriteResult> WriteAsync(IReadOnlyList<InboxWrite> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var item in items)
        {
            ArgumentNullException.ThrowIfNull(item, nameof(items));
            item.ThrowIfInvalid();
        }

        int added = 0;
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            foreach (var item in items)
            {
                if (Add(item.Tenant, item, now))
                {
                    added++;
                }
            }
        }

        foreach (var item in items)
        {
            _signals.Signal(item.Tenant);
        }

        return ValueTask.FromResult(new InboxWriteResult(added, items.Count - added));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<InboxItem>> ClaimAsync(TenantId tenant, InboxConsumer consumer, int maxItems, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxItems, 1);
        var claimed = new List<InboxItem>();
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_tenants.TryGetValue(tenant, out var items))
            {
                foreach (var entry in items.Pending())
                {
                    if (claimed.Count == maxItems || entry.NextAttemptAt > now
                        || (entry.ClaimedBy is not null && entry.ClaimEpoch >= consumer.OwnershipEpoch && entry.ClaimedBy != consumer.Id))
                    {
                        break;
                    }

                    entry.ClaimedBy = consumer.Id;
                    entry.ClaimEpoch = consumer.OwnershipEpoch;
                    entry.Attempts++;
                    claimed.Add(entry.ToItem());
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<InboxItem>>(claimed);
    }

    /// <inheritdoc />
    public ValueTask<int> ResetClaimsAsync(TenantId tenant, long ownershipEpoch, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        int reset = 0;
        lock (_gate)
        {
            if (_tenants.TryGetValue(tenant, out var items))
            {
                foreach (var entry in items.Pending())
                {
                    if (entry.ClaimedBy is not null && entry.ClaimEpoch <= ownershipEpoch)
                    {
                        entry.ClaimedBy = null;
                        reset++;
                    }
                }
            }
        }

        return ValueTask.FromResult(reset);
    }

    /// <inheritdoc />
    public ValueTask<int> ReleaseAsync(TenantId tenant, IReadOnlyList<long> itemIds, InboxConsumer consumer, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(itemIds);
        int released = 0;
        lock (_gate)
        {
            foreach (long id in itemIds)
            {
                if (TryGetClaimed(tenant, id, consumer, out _, out var entry))
                {
                    entry.ClaimedBy = null;
                    entry.Attempts = Math.Max(0, entry.Attempts - 1);
                    released++;
                }
            }
        }

        return ValueTask.FromResult(released);
    }

    /// <inheritdoc />
    public ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, InboxConsumer consumer, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!TryGetClaimed(tenant, itemId, consumer, out var items, out var entry))
            {
                return ValueTask.FromResult(false);
            }

            items.Move(entry, InboxItemState.Done);
            entry.ClaimedBy = null;
            entry.CompletedAt = now;
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> FailAsync(TenantId tenant, long itemId, InboxConsumer consumer, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(error);
        lock (_gate)
        {
            if (!TryGetClaimed(tenant, itemId, consumer, out var items, out var entry))
            {
                return ValueTask.FromResult(false);
            }

            entry.ClaimedBy = null;
            entry.LastError = error.Length > MaxErrorLength ? error[..MaxErrorLength] : error;
            if (retryAt is { } due)
            {
                entry.NextAttemptAt = due;
            }
            else
            {
                items.Move(entry, InboxItemState.DeadLetter);
            }

            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<InboxItem>> ListDeadLettersAsync(TenantId tenant, int limit, long afterId = 0, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var list = new List<InboxItem>();
        lock (_gate)
        {
            if (_tenants.TryGetValue(tenant, out var items))
            {
                foreach (var entry in items.Dead.Values)
                {
                    if (entry.Id > afterId)
                    {
                        list.Add(entry.ToItem());
                        if (list.Count == limit)
                        {
                            break;
                        }
                    }
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<InboxItem>>(list);
    }

    /// <inheritdoc />
    public ValueTask<bool> RetryAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        bool retried = false;
        lock (_gate)
        {
            if (_tenants.TryGetValue(tenant, out var items) && items.Dead.TryGetValue(itemId, out var entry))
            {
                Revive(items, entry);
                retried = true;
            }
        }

        if (retried)
        {
            _signals.Signal(tenant);
        }

        return ValueTask.FromResult(retried);
    }

    /// <inheritdoc />
    public ValueTask<int> RetryAllAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        int retried = 0;
        lock (_gate)
        {
            if (_tenants.TryGetValue(tenant, out var items))
            {
                foreach (var entry in new List<Entry>(items.Dead.Values))
                {
                    Revive(items, entry);
                    retried++;
                }
            }
        }

        if (retried > 0)
        {
            _signals.Signal(tenant);
        }

        return ValueTask.FromResult(retried);
    }

    /// <inheritdoc />
    public ValueTask<InboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        lock (_gate)
        {
            return ValueTask.FromResult(_tenants.TryGetValue(tenant, out var items)
                ? new InboxCounts(items.PendingById.Count, items.DoneCount, items.Dead.Count)
                : default);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> PurgeCompletedAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default)
    {
        int purged = 0;
        lock (_gate)
        {
            foreach (var items in _tenants.Values)
            {
                purged += items.PurgeDone(completedBefore);
            }
        }

        return ValueTask.FromResult(purged);
    }

    /// <inheritdoc />
    public ValueTask<bool> WriteUnroutedAsync(TenantAddress address, IReadOnlyList<InboxWrite> items, int capacity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(items);
        foreach (var item in items)
        {
            ArgumentNullException.ThrowIfNull(item, nameof(items));
            InboxNames.ThrowIfInvalidKey(item.Key, nameof(item.Key));
            InboxNames.ThrowIfInvalidName(item.Source, nameof(item.Source));
            InboxNames.ThrowIfInvalidName(item.Kind, nameof(item.Kind));
        }

        lock (_gate)
        {
            if (!_unrouted.TryGetValue(address, out var kept))
            {
                kept = [];
            }

            var fresh = new List<InboxWrite>();
            foreach (var item in items)
            {
                if (!kept.Exists(k => string.Equals(k.Key, item.Key, StringComparison.Ordinal))
                    && !fresh.Exists(k => string.Equals(k.Key, item.Key, StringComparison.Ordinal)))
                {
                    fresh.Add(item);
                }
            }

            if (_unroutedCount + fresh.Count > capacity)
            {
                return ValueTask.FromResult(false);
            }

            kept.AddRange(fresh);
            _unrouted[address] = kept;
            _unroutedCount += fresh.Count;
            return ValueTask.FromResult(true);
        }
    }

    /// <inheritdoc />
    public ValueTask<int> AdoptUnroutedAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        InboxNames.ThrowIfDefault(tenant);
        int moved = 0;
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (_unrouted.Remove(address, out var kept))
            {
                _unroutedCount -= kept.Count;
                foreach (var item in kept)
                {
                    if (Add(tenant, item, now))
                    {
                        moved++;
                    }
                }
            }
        }

        if (moved > 0)
        {
            _signals.Signal(tenant);
        }

        return ValueTask.FromResult(moved);
    }

    /// <inheritdoc />
    public ValueTask<long> CountUnroutedAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult((long)_unroutedCount);
        }
    }

    /// <inheritdoc />
    public Task WaitForItemsAsync(TenantId tenant, CancellationToken cancellationToken) => _signals.WaitAsync(tenant, cancellationToken);

    private bool Add(TenantId tenant, InboxWrite item, DateTimeOffset now)
    {
        if (!_tenants.TryGetValue(tenant, out var items))
        {
            items = new TenantItems();
            _tenants[tenant] = items;
        }

        if (items.ByKey.ContainsKey(item.Key))
        {
            return false;
        }

        var entry = new Entry(++_nextId, tenant, item.Key, item.Source, item.Kind, item.Payload.ToArray(), now);
        items.ByKey[item.Key] = entry;
        items.PendingById[entry.Id] = entry;
        return true;
    }

    private void Revive(TenantItems items, Entry entry)
    {
        items.Move(entry, InboxItemState.Pending);
        entry.Attempts = 0;
        entry.NextAttemptAt = _time.GetUtcNow();
    }

    private bool TryGetClaimed(TenantId tenant, long itemId, InboxConsumer consumer, out TenantItems items, out Entry entry)
    {
        entry = null!;
        return _tenants.TryGetValue(tenant, out items!)
            && items.PendingById.TryGetValue(itemId, out entry!)
            && entry.ClaimedBy == consumer.Id;
    }
}
