namespace MultiTenant;

/// <summary>
/// Which statuses a page holds (issue 12): the first <see cref="Limit"/> statuses whose business id sorts after <see cref="After"/>
/// (ordinal order, the order of <c>GET /api/tenants</c>), of the tenants in <see cref="State"/> when it is set.
/// </summary>
public sealed record TenantStatusQuery
{
    /// <summary>The page size when none is given: 1,000.</summary>
    public const int DefaultLimit = 1000;

    /// <summary>The largest page: 10,000.</summary>
    public const int MaxLimit = 10_000;

    private readonly int _limit = DefaultLimit;

    /// <summary>The cursor: only statuses of business ids after this one (ordinal); <see langword="null"/> starts at the first.</summary>
    public TenantId? After { get; init; }

    /// <summary>At most this many statuses: 1 to <see cref="MaxLimit"/>. Default <see cref="DefaultLimit"/>.</summary>
    public int Limit
    {
        get => _limit;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxLimit);
            _limit = value;
        }
    }

    /// <summary>Only tenants in this state; <see langword="null"/>: every state.</summary>
    public TenantState? State { get; init; }

    /// <summary>Whether <paramref name="status"/> is of this query's state (any, when none is set).</summary>
    public bool Matches(TenantStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return State is not { } state || status.State == state;
    }
}

/// <summary>One page of statuses, in business id order.</summary>
/// <param name="Statuses">The statuses; at most the query's limit, and possibly fewer even when more follow.</param>
/// <param name="Next">
/// The cursor of the next page (pass it as <see cref="TenantStatusQuery.After"/>), or <see langword="null"/> when this was the last.
/// </param>
public sealed record TenantStatusPage(IReadOnlyList<TenantStatus> Statuses, TenantId? Next)
{
    /// <summary>Reads a page from statuses sorted by business id (ordinal): the fallback of stores without a page query of their own.</summary>
    /// <param name="sorted">Every status, sorted by business id.</param>
    /// <param name="query">The page to read.</param>
    public static TenantStatusPage FromSorted(IEnumerable<TenantStatus> sorted, TenantStatusQuery query)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        ArgumentNullException.ThrowIfNull(query);
        var page = new List<TenantStatus>(Math.Min(query.Limit, 256));
        foreach (var status in sorted)
        {
            if ((query.After is { } after && status.BusinessId.CompareTo(after) <= 0) || !query.Matches(status))
            {
                continue;
            }

            if (page.Count == query.Limit)
            {
                return new TenantStatusPage(page, page[^1].BusinessId);
            }

            page.Add(status);
        }

        return new TenantStatusPage(page, null);
    }
}
