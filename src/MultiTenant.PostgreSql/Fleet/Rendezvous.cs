namespace MultiTenant.PostgreSql.Fleet;

/// <summary>A live host as placement sees it.</summary>
/// <param name="HostId">The host's id.</param>
/// <param name="Capacity">The most tenants it runs, or <see langword="null"/> for no limit.</param>
internal readonly record struct FleetHost(string HostId, int? Capacity);

/// <summary>
/// Rendezvous (highest-random-weight) placement: a tenant goes to the live host with the highest weight hash(host, tenant), or, when
/// that host is full, to the next one that has room. Deterministic across processes (FNV-1a 64 over the UTF-16 code units, then the
/// SplitMix64 finaliser), so every host computes the same placement from the same live hosts; a host joining or leaving moves only the
/// tenants it gains or had.
/// </summary>
internal static class Rendezvous
{
    public static ulong Weight(string host, string tenant)
    {
        const ulong Prime = 0x100000001b3UL;
        ulong hash = 0xcbf29ce484222325UL;
        foreach (char c in host)
        {
            hash = (hash ^ c) * Prime;
        }

        hash = (hash ^ 0xFFFF) * Prime; // separator: ("ab","c") and ("a","bc") differ
        foreach (char c in tenant)
        {
            hash = (hash ^ c) * Prime;
        }

        // SplitMix64 finaliser: FNV's low bits mix poorly on their own.
        hash ^= hash >> 30;
        hash *= 0xbf58476d1ce4e5b9UL;
        hash ^= hash >> 27;
        hash *= 0x94d049bb133111ebUL;
        hash ^= hash >> 31;
        return hash;
    }

    /// <summary>
    /// Places every tenant of <paramref name="tenants"/> (visited in ordinal order, so capacity is filled the same way on every host).
    /// A tenant no host has room for maps to <see langword="null"/>.
    /// </summary>
    public static Dictionary<TenantId, string?> Assign(IReadOnlyList<TenantId> tenants, IReadOnlyList<FleetHost> hosts)
    {
        var result = new Dictionary<TenantId, string?>(tenants.Count);
        if (hosts.Count == 0)
        {
            foreach (var tenant in tenants)
            {
                result[tenant] = null;
            }

            return result;
        }

        var sorted = new List<TenantId>(tenants);
        sorted.Sort();
        bool limited = false;
        foreach (var host in hosts)
        {
            limited |= host.Capacity is not null;
        }

        var load = new int[hosts.Count];
        var order = new int[hosts.Count];
        var weights = new ulong[hosts.Count];
        foreach (var tenant in sorted)
        {
            if (!limited)
            {
                int best = 0;
                ulong bestWeight = 0;
                for (int i = 0; i < hosts.Count; i++)
                {
                    ulong w = Weight(hosts[i].HostId, tenant.Value);
                    if (i == 0 || w > bestWeight || (w == bestWeight && string.CompareOrdinal(hosts[i].HostId, hosts[best].HostId) < 0))
                    {
                        best = i;
                        bestWeight = w;
                    }
                }

                result[tenant] = hosts[best].HostId;
                continue;
            }

            for (int i = 0; i < hosts.Count; i++)
            {
                order[i] = i;
                weights[i] = Weight(hosts[i].HostId, tenant.Value);
            }

            Array.Sort(order, (a, b) => weights[b] != weights[a] ? weights[b].CompareTo(weights[a]) : string.CompareOrdinal(hosts[a].HostId, hosts[b].HostId));
            string? chosen = null;
            foreach (int i in order)
            {
                if (hosts[i].Capacity is not { } capacity || load[i] < capacity)
                {
                    load[i]++;
                    chosen = hosts[i].HostId;
                    break;
                }
            }

            result[tenant] = chosen;
        }

        return result;
    }
}
