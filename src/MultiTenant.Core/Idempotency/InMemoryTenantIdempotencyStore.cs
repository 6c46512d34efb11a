namespace MultiTenant.Idempotency;

/// <summary>
/// The embedded <see cref="ITenantIdempotencyStore"/>: in process memory, for a single host. Bounded: at most <c>maxEntries</c> keys
/// (default <see cref="DefaultMaxEntries"/>); when full, the oldest key is forgotten first. Keys expire
/// <see cref="TenantIdempotency.Retention"/> after their first use, by the store's <see cref="TimeProvider"/>. Not durable: keys are
/// lost at restart. Thread-safe.
/// </summary>
public sealed class InMemoryTenantIdempotencyStore : ITenantIdempotencyStore
{
    /// <summary>The default bound: 100,000 keys.</summary>
    public const int DefaultMaxEntries = 100_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<(TenantId Tenant, string Key), Entry> _entries = [];

    // Keys in the order they were claimed (oldest first), with the claim's id: an item whose entry is gone or newer is stale.
    private readonly Queue<((TenantId Tenant, string Key) Key, long Id)> _order = new();
    private readonly TimeProvider _time;
    private readonly int _maxEntries;
    private long _nextId;

    /// <summary>Creates an empty store on <paramref name="time"/> (default: the system clock) holding at most <paramref name="maxEntries"/> keys.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxEntries"/> is less than 1.</exception>
    public InMemoryTenantIdempotencyStore(TimeProvider? time = null, int maxEntries = DefaultMaxEntries)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        _time = time ?? TimeProvider.System;
        _maxEntries = maxEntries;
    }

    /// <summary>The number of keys held now (expired ones included until the next call prunes them).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<IdempotencyResult> BeginAsync(TenantId tenant, string key, ReadOnlyMemory<byte> requestHash, CancellationToken cancellationToken = default)
    {
        TenantIdempotency.ThrowIfInvalid(tenant, key, requestHash);
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            Prune(now);
            if (_entries.TryGetValue((tenant, key), out var entry))
            {
                if (!entry.Hash.AsSpan().SequenceEqual(requestHash.Span))
                {
                    return ValueTask.FromResult(new IdempotencyResult(IdempotencyState.Mismatch, null));
                }

                if (entry.MessageId is { } messageId)
                {
                    return ValueTask.FromResult(new IdempotencyResult(IdempotencyState.Completed, messageId));
                }

                if (now - entry.ClaimedAt < TenantIdempotency.InProgressTimeout)
                {
                    return ValueTask.FromResult(new IdempotencyResult(IdempotencyState.InProgress, null));
                }

                // The claim's holder never finished (its request died): the same request may claim it again.
                entry.ClaimedAt = now;
                return ValueTask.FromResult(new IdempotencyResult(IdempotencyState.Started, null));
            }

            while (_entries.Count >= _maxEntries && _order.TryDequeue(out var oldest))
            {
                RemoveIfCurrent(oldest.Key, oldest.Id);
            }

            long id = ++_nextId;
            _entries[(tenant, key)] = new Entry(id, requestHash.ToArray(), now);
            _order.Enqueue(((tenant, key), id));
            if (_order.Count > 2 * _maxEntries)
            {
                Compact();
            }
        }

        return ValueTask.FromResult(new IdempotencyResult(IdempotencyState.Started, null));
    }

    /// <inheritdoc />
    public ValueTask CompleteAsync(TenantId tenant, string key, string messageId, CancellationToken cancellationToken = default)
    {
        TenantIdempotency.ThrowIfInvalid(tenant, key);
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        lock (_lock)
        {
            if (_entries.TryGetValue((tenant, key), out var entry))
            {
                entry.MessageId ??= messageId;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(TenantId tenant, string key, CancellationToken cancellationToken = default)
    {
        TenantIdempotency.ThrowIfInvalid(tenant, key);
        lock (_lock)
        {
            if (_entries.TryGetValue((tenant, key), out var entry) && entry.MessageId is null)
            {
                _entries.Remove((tenant, key));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Forgets the keys older than the retention, oldest first.</summary>
    private void Prune(DateTimeOffset now)
    {
        while (_order.TryPeek(out var oldest))
        {
            if (_entries.TryGetValue(oldest.Key, out var entry) && entry.Id == oldest.Id && now - entry.CreatedAt < TenantIdempotency.Retention)
            {
                return;
            }

            _order.Dequeue();
            RemoveIfCurrent(oldest.Key, oldest.Id);
        }
    }

    private void RemoveIfCurrent((TenantId Tenant, string Key) key, long id)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.Id == id)
        {
            _entries.Remove(key);
        }
    }

    /// <summary>Drops the stale items of the claim order (keys released and claimed again).</summary>
    private void Compact()
    {
        var current = _order.Where(item => _entries.TryGetValue(item.Key, out var entry) && entry.Id == item.Id).ToArray();
        _order.Clear();
        foreach (var item in current)
        {
            _order.Enqueue(item);
        }
    }

    private sealed class Entry(long id, byte[] hash, DateTimeOffset now)
    {
        public long Id { get; } = id;

        public byte[] Hash { get; } = hash;

        public DateTimeOffset CreatedAt { get; } = now;

        public DateTimeOffset ClaimedAt { get; set; } = now;

        public string? MessageId { get; set; }
    }
}
