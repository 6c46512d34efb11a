namespace MultiTenant.Storage;

/// <summary>
/// The registry of desired state: which tenants should run. A started tenant runs again after its host restarts, until it is stopped.
/// </summary>
public interface ITenantRegistry
{
    /// <summary>Records that <paramref name="tenant"/> should run (<paramref name="running"/> true) or stay stopped.</summary>
    ValueTask SetDesiredStateAsync(TenantId tenant, bool running, CancellationToken cancellationToken);

    /// <summary>Lists the tenants that should run, in ordinal order of their ids.</summary>
    ValueTask<IReadOnlyList<TenantId>> ListDesiredRunningAsync(CancellationToken cancellationToken);
}

/// <summary>The status store: the last status of every tenant, readable by any host.</summary>
public interface ITenantStatusStore
{
    /// <summary>Writes the given statuses (latest wins per tenant) in one batch.</summary>
    ValueTask UpsertAsync(IReadOnlyCollection<TenantStatus> statuses, CancellationToken cancellationToken);

    /// <summary>Reads one tenant's status, or <see langword="null"/> when it has none.</summary>
    ValueTask<TenantStatus?> GetAsync(TenantId tenant, CancellationToken cancellationToken);

    /// <summary>Reads every tenant's status, in ordinal order of their ids.</summary>
    ValueTask<IReadOnlyList<TenantStatus>> ListAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads one page of statuses: the first <see cref="TenantStatusQuery.Limit"/> after the query's cursor, in ordinal order of the ids,
    /// of the query's state when it has one. The embedded and PostgreSQL stores answer it in time independent of the number of tenants
    /// (a sorted index; a keyset query). This default implementation reads the whole list (<see cref="ListAsync"/>) and pages it, so
    /// a store of its own works unchanged, at the cost of a full read per page.
    /// </summary>
    async ValueTask<TenantStatusPage> ListPageAsync(TenantStatusQuery query, CancellationToken cancellationToken) =>
        TenantStatusPage.FromSorted(await ListAsync(cancellationToken).ConfigureAwait(false), query);
}

/// <summary>
/// One tenant's client state (the "device store": a paired device, keys, sessions), as opaque values under a namespace and a key.
/// Bound to one tenant: it cannot name another tenant's rows.
/// </summary>
public interface ITenantStateStore
{
    /// <summary>The tenant the store is bound to.</summary>
    TenantId Tenant { get; }

    /// <summary>Reads a value, or <see langword="null"/> when absent.</summary>
    ValueTask<byte[]?> GetAsync(string @namespace, string key, CancellationToken cancellationToken = default);

    /// <summary>Writes a value (insert or replace).</summary>
    ValueTask SetAsync(string @namespace, string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>Deletes a value. Returns whether it existed.</summary>
    ValueTask<bool> DeleteAsync(string @namespace, string key, CancellationToken cancellationToken = default);

    /// <summary>Lists the keys under a namespace, in ordinal order.</summary>
    ValueTask<IReadOnlyList<string>> ListKeysAsync(string @namespace, CancellationToken cancellationToken = default);

    /// <summary>Deletes every value of the tenant (for example after a logout). Returns how many were deleted.</summary>
    ValueTask<int> ClearAsync(CancellationToken cancellationToken = default);
}

/// <summary>Hands out per-tenant client state stores.</summary>
public interface ITenantStateStoreProvider
{
    /// <summary>The store bound to <paramref name="tenant"/>.</summary>
    ITenantStateStore GetStore(TenantId tenant);
}

/// <summary>
/// The state stores handed to running clients, when they differ from <see cref="ITenantStateStoreProvider"/>: in fleet mode a client's
/// store is fenced by the ownership epoch of its run, while <see cref="ITenantStateStoreProvider"/> stays the administrative access used
/// outside a run (for example to set a tenant's credentials before it is started). Optional: without one, runs get
/// <see cref="ITenantStateStoreProvider.GetStore"/>.
/// </summary>
public interface ITenantRunStateStoreProvider
{
    /// <summary>The store of one run of <paramref name="tenant"/>, whose writes are fenced by <paramref name="ownershipEpoch"/>.</summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="ownershipEpoch">The epoch under which the run owns the tenant (<see cref="Hosting.ITenantHost.Activate"/>).</param>
    ITenantStateStore GetRunStore(TenantId tenant, long ownershipEpoch);
}

/// <summary>Health of the storage backend, reported as the <c>database</c> health component.</summary>
public interface ITenantStoreHealth
{
    /// <summary>A short name of the backend (<c>embedded</c>, <c>postgresql</c>).</summary>
    string Backend { get; }

    /// <summary>Probes the backend: a round trip, its latency and the connection pool figures.</summary>
    ValueTask<StoreHealthReport> CheckAsync(CancellationToken cancellationToken);

    /// <summary>The current pool figures without a round trip, or <see langword="null"/> for a backend without a pool.</summary>
    StorePoolStatistics? PoolStatistics { get; }
}

/// <summary>The result of a store probe.</summary>
/// <param name="Healthy">Whether the probe succeeded.</param>
/// <param name="Latency">The round trip.</param>
/// <param name="Acquired">Connections in use.</param>
/// <param name="Idle">Connections idle in the pool.</param>
/// <param name="Max">The pool's maximum size.</param>
/// <param name="Problem">Why the probe failed, safe to show (no secrets, no exception text).</param>
public sealed record StoreHealthReport(bool Healthy, TimeSpan Latency, int Acquired, int Idle, int Max, string? Problem = null);

/// <summary>A key or namespace that a state store does not accept.</summary>
public sealed class InvalidStateKeyException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    public InvalidStateKeyException(string message, string paramName)
        : base(message, paramName)
    {
    }

    /// <summary>
    /// Validates a namespace or key: 1–255 characters, no control characters. Every <see cref="ITenantStateStore"/> implementation
    /// applies it, so the stores accept the same keys.
    /// </summary>
    /// <param name="value">The namespace or key.</param>
    /// <param name="paramName">What it is (<c>namespace</c> or <c>key</c>), used in the message.</param>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidStateKeyException"><paramref name="value"/> breaks the rules.</exception>
    public static void ThrowIfInvalid(string value, string paramName)
    {
        ArgumentNullException.ThrowIfNull(value, paramName);
        if (value.Length is 0 or > 255)
        {
            throw new InvalidStateKeyException($"A state {paramName} must be 1 to 255 characters long.", paramName);
        }

        foreach (char c in value)
        {
            if (char.IsControl(c))
            {
                throw new InvalidStateKeyException($"A state {paramName} must not contain control characters.", paramName);
            }
        }
    }
}

/// <summary>Connection pool figures of a store.</summary>
/// <param name="Acquired">Connections in use.</param>
/// <param name="Idle">Connections idle in the pool.</param>
/// <param name="Max">The pool's maximum size.</param>
public readonly record struct StorePoolStatistics(int Acquired, int Idle, int Max);
