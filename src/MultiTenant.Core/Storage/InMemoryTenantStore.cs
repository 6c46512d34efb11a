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
    private readonly ConcurrentDictionary<TenantId, InMemoryTenantStateStore> _states = new();
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
        return _states.GetOrAdd(tenant, static t => new InMemoryTenantStateStore(t));
    }

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

    private sealed class InMemoryTenantStateStore(TenantId tenant) : ITenantStateStore
    {
        private readonly ConcurrentDictionary<(string Namespace, string Key), byte[]> _values = new();

        public TenantId Tenant => tenant;

        public ValueTask<byte[]?> GetAsync(string @namespace, string key, CancellationToken cancellationToken = default)
        {
            Validate(@namespace, key);
            return ValueTask.FromResult(_values.TryGetValue((@namespace, key), out var value) ? (byte[])value.Clone() : null);
        }

        public ValueTask SetAsync(string @namespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
        {
            Validate(@namespace, key);
            _values[(@namespace, key)] = value.ToArray();
            return ValueTask.CompletedTask;
        }

        public ValueTask<bool> DeleteAsync(string @namespace, string key, CancellationToken cancellationToken = default)
        {
            Validate(@namespace, key);
            return ValueTask.FromResult(_values.TryRemove((@namespace, key), out _));
        }

        public ValueTask<IReadOnlyList<string>> ListKeysAsync(string @namespace, CancellationToken cancellationToken = default)
        {
            InvalidStateKeyException.ThrowIfInvalid(@namespace, "namespace");
            var keys = new List<string>();
            foreach (var entry in _values.Keys)
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
            int count = _values.Count;
            _values.Clear();
            return ValueTask.FromResult(count);
        }

        private static void Validate(string @namespace, string key)
        {
            InvalidStateKeyException.ThrowIfInvalid(@namespace, "namespace");
            InvalidStateKeyException.ThrowIfInvalid(key, "key");
        }
    }
}
