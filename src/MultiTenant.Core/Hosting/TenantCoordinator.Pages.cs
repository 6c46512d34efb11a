using MultiTenant.Storage;

namespace MultiTenant.Hosting;

/// <summary>Pages of statuses (issue 12): read without walking every tenant.</summary>
public sealed partial class TenantCoordinator
{
    // Every tenant this coordinator has a supervisor for, in id order: the local side of a page.
    private readonly SortedSet<TenantId> _localOrder = new();
    private readonly Lock _localOrderGate = new();

    /// <inheritdoc />
    /// <remarks>
    /// Merges the store's page with this host's own statuses, which are the freshest for the tenants placed here (and include tenants
    /// whose status the store has not received yet). Costs one store page query and O(log n + limit) here, whatever the number of
    /// tenants, except with a <see cref="TenantStatusQuery.State"/> that few tenants are in: the local side then reads on until it
    /// has a page or the end. A page may hold fewer than <see cref="TenantStatusQuery.Limit"/> statuses while more follow: read on
    /// while <see cref="TenantStatusPage.Next"/> is set.
    /// </remarks>
    public async ValueTask<TenantStatusPage> ListStatusPageAsync(TenantStatusQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var stored = await _statusStore.ListPageAsync(query, cancellationToken).ConfigureAwait(false);
        var candidates = new Dictionary<TenantId, TenantStatus>(stored.Statuses.Count + query.Limit);
        foreach (var status in stored.Statuses)
        {
            candidates[status.BusinessId] = LiveStatus(status.BusinessId) ?? status;
        }

        // The store's state filter saw stored states: a tenant whose live state matches but whose stored one does not comes from here.
        TenantId? localBound = null;
        int taken = 0;
        lock (_localOrderGate)
        {
            foreach (var tenant in SortedTenantIds.After(_localOrder, query.After))
            {
                if (LiveStatus(tenant) is { } live && query.Matches(live))
                {
                    candidates[tenant] = live;
                    if (++taken == query.Limit)
                    {
                        localBound = tenant;
                        break;
                    }
                }
            }
        }

        // Beyond a bound, one side was not read: nothing after the nearer bound can be answered yet.
        TenantId? bound = stored.Next is { } storeBound && localBound is { } local
            ? (storeBound.CompareTo(local) < 0 ? storeBound : local)
            : stored.Next ?? localBound;
        var page = new List<TenantStatus>(Math.Min(candidates.Count, query.Limit));
        foreach (var status in candidates.Values.Where(s => query.Matches(s) && (bound is not { } b || s.BusinessId.CompareTo(b) <= 0))
            .OrderBy(static s => s.BusinessId))
        {
            if (page.Count == query.Limit)
            {
                return new TenantStatusPage(page, page[^1].BusinessId);
            }

            page.Add(status);
        }

        return new TenantStatusPage(page, bound);
    }

    /// <summary>How many tenants the local side of a page walks (tests check that it does not grow with stopped or unknown tenants).</summary>
    internal int IndexedTenantCount
    {
        get
        {
            lock (_localOrderGate)
            {
                return _localOrder.Count;
            }
        }
    }

    private void IndexSupervisor(TenantId tenant)
    {
        lock (_localOrderGate)
        {
            _localOrder.Add(tenant);
        }
    }

    /// <summary>Takes <paramref name="tenant"/> out of the index unless a new supervisor of it was added meanwhile.</summary>
    private void UnindexSupervisor(TenantId tenant)
    {
        lock (_localOrderGate)
        {
            if (!_supervisors.ContainsKey(tenant))
            {
                _localOrder.Remove(tenant);
            }
        }
    }

    /// <summary>This host's status of <paramref name="tenant"/> when it is placed here.</summary>
    private TenantStatus? LiveStatus(TenantId tenant) =>
        _supervisors.TryGetValue(tenant, out var supervisor) && _placement.IsPlacedHere(tenant) ? supervisor.Status : null;
}
