namespace MultiTenant.Storage;

/// <summary>Keyset reads of a sorted set of tenant ids (the order of every status list: ordinal).</summary>
internal static class SortedTenantIds
{
    /// <summary>The ids after <paramref name="after"/> (all, when it is <see langword="null"/>), in order: O(log n) to the first.</summary>
    /// <remarks>Not thread-safe: the caller holds the set's lock for the whole enumeration.</remarks>
    public static IEnumerable<TenantId> After(SortedSet<TenantId> ids, TenantId? after)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        if (after is not { } cursor)
        {
            return ids;
        }

        var max = ids.Max;
        return cursor.CompareTo(max) >= 0 ? [] : ids.GetViewBetween(cursor, max).Where(t => t.CompareTo(cursor) > 0);
    }
}
