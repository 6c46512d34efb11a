using System.Collections.Concurrent;

namespace MultiTenant.Storage;

/// <summary>
/// The embedded default store: registry, status and client state kept in process memory. For a single host and for trying things
/// out; nothing survives a restart of the process. Thread-safe.
/// </summary>
public sealed class InMemoryTenantStore : ITenantRegistry, ITenantStatusStore, ITenantStateStoreProvider, ITenantStoreHealth, ITenantPurgeable
{
    private readonly ConcurrentDictionary<TenantId, bool> _desired = new();
    private readonly ConcurrentDictionary<TenantId, TenantStatus> _statuses = new();
    private readonly ConcurrentDictionary<TenantId, ConcurrentDictionary<(string Namespace, string Key), byte[]>> _states = new(); // tenants with a value only
    private readonly SortedSet<TenantId> _order = new(); // the ids of _statuses, for pages (removed by a purge only; readers skip an id whose status is gone)
    private readonly Lock _orderGate = new();
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates an empty store.</summary>
    public InMemoryTenantStore(TimeProvider? timeProvider = null) => _timeProvider = timeProvider ?? TimeProvider.System;

    /// <inheritdoc />
    public string Backend => "embedded";

    /// <inheritdoc />
    public StorePoolStatistics? PoolStatistics => null;

    /// <inheritdoc />
    public ValueTask SetDesiredStateAsync(TenantId tenant, bool running, CancellationToken cancellationToken)
    {
        ThrowIfDefault(tenant);
        _desired[tenant] = running;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<TenantId>> ListDesiredRunningAsync(CancellationToken cancellationToken)
    {
        var running = new List<TenantId>();
        foreach (var (tenant, desired) in _desired)
        {
            if (desired)
            {
                running.Add(tenant);
            }
        }

        running.Sort();
        return ValueTask.FromResult<IReadOnlyList<TenantId>>(running);
    }

    /// <inheritdoc />
    public ValueTask PurgeAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        _desired.TryRemove(tenant, out _);
        lock (_orderGate)
        {
            _statuses.TryRemove(tenant, out _);
            _order.Remove(tenant);
        }

        _states.TryRemove(tenant, out _);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask UpsertAsync(IReadOnlyCollection<TenantStatus> statuses, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        foreach (var status in statuses)
        {
            ThrowIfDefault(status.BusinessId);
            if (_statuses.TryAdd(status.BusinessId, status))
            {
                lock (_orderGate)
                {
                    _order.Add(status.BusinessId);
                }
            }
            else
            {
                _statuses[status.BusinessId] = status;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<TenantStatus?> GetAsync(TenantId tenant, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_statuses.TryGetValue(tenant, out var status) ? status : null);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<TenantStatus>> ListAsync(CancellationToken cancellationToken)
    {
        var list = new List<TenantStatus>();
        lock (_orderGate)
        {
            foreach (var tenant in _order)
            {
                if (_statuses.TryGetValue(tenant, out var status))
                {
                    list.Add(status);
                }
            }
        }

        return ValueTask.FromResult<IReadOnlyList<TenantStatus>>(list);
    }

    /// <inheritdoc />
    /// <remarks>From a sorted index of the ids: O(log n + page) whatever the number of tenants (a rare state reads on to fill the page).</remarks>
    public ValueTask<TenantStatusPage> ListPageAsync(TenantStatusQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_orderGate)
        {
            return ValueTask.FromResult(TenantStatusPage.FromSorted(
                SortedTenantIds.After(_order, query.After)
                    .Select(tenant => _statuses.TryGetValue(tenant, out var status) ? status : null)
                    .OfType<TenantStatus>(), query with { After = null }));
        }
    }

    /// <inheritdoc />
    public ITenantStateStore GetStore(TenantId tenant)
    {
        ThrowIfDefault(tenant);
        return new InMemoryTenantStateStore(tenant, _states); // a view: reading an unknown tenant's state allocates nothing that stays
    }

    /// <summary>How many tenants have client state here (tests: reads of unknown tenants add none).</summary>
    internal int TenantsWithState => _states.Count;

    /// <inheritdoc />
    public ValueTask<StoreHealthReport> CheckAsync(CancellationToken cancellationToken)
    {
        long start = _timeProvider.GetTimestamp();
        _ = _statuses.IsEmpty; // a touch of the map; Count would take every lock of it
        return ValueTask.FromResult(new StoreHealthReport(true, _timeProvider.GetElapsedTime(start), 0, 0, 0));
    }

    private static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }
    }

    /// <summary>
    /// One tenant's state: a view on the store's map of the tenants that have a value. Reads look the tenant up and add nothing; the
    /// first write adds the tenant's values (each call looks them up again, so a view outlives a purge of its tenant correctly).
    /// </summary>
    private sealed class InMemoryTenantStateStore(
        TenantId tenant, ConcurrentDictionary<TenantId, ConcurrentDictionary<(string Namespace, string Key), byte[]>> states) : ITenantStateStore
    {
        public TenantId Tenant => tenant;

        public ValueTask<byte[]?> GetAsync(string @namespace, string key, CancellationToken cancellationToken = default)
        {
            Validate(@namespace, key);
            return ValueTask.FromResult(Find() is { } values && values.TryGetValue((@namespace, key), out var value) ? (byte[])value.Clone() : null);
        }

        public ValueTask SetAsync(string @namespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        {
            Validate(@namespace, key);
            states.GetOrAdd(tenant, static _ => new())[(@namespace, key)] = value.ToArray();
            return ValueTask.CompletedTask;
        }

        public ValueTask<bool> DeleteAsync(string @namespace, string key, CancellationToken cancellationToken = default)
        {
            Validate(@namespace, key);
            return ValueTask.FromResult(Find() is { } values && values.TryRemove((@namespace, key), out _));
        }

        public ValueTask<IReadOnlyList<string>> ListKeysAsync(string @namespace, CancellationToken cancellationToken = default)
        {
            InvalidStateKeyException.ThrowIfInvalid(@namespace, "namespace");
            var keys = new List<string>();
            foreach (var entry in (IEnumerable<(string Namespace, string Key)>?)Find()?.Keys ?? [])
            {
                if (string.Equals(entry.Namespace, @namespace, StringComparison.Ordinal))
                {
                    keys.Add(entry.Key);
                }
            }

            keys.Sort(StringComparer.Ordinal);
            return ValueTask.FromResult<IReadOnlyList<string>>(keys);
        }

        public ValueTask<int> ClearAsync(CancellationToken cancellationToken = default)
        {
            if (Find() is not { } values)
            {
                return ValueTask.FromResult(0);
            }

            int count = values.Count;
            values.Clear();
            return ValueTask.FromResult(count);
        }

        private ConcurrentDictionary<(string Namespace, string Key), byte[]>? Find() => states.TryGetValue(tenant, out var values) ? values : null;

        private static void Validate(string @namespace, string key)
        {
            InvalidStateKeyException.ThrowIfInvalid(@namespace, "namespace");
            InvalidStateKeyException.ThrowIfInvalid(key, "key");
        }
    }
}
