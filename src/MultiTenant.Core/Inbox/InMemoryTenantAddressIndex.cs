using System.Collections.Concurrent;

namespace MultiTenant.Inbox;

/// <summary>
/// The embedded <see cref="ITenantAddressIndex"/>: in process memory, for a single host. Not durable: nothing survives a restart of the
/// process (clients claim their addresses again when they start). Thread-safe; claims are atomic.
/// </summary>
public sealed class InMemoryTenantAddressIndex : ITenantAddressIndex
{
    private readonly ConcurrentDictionary<TenantAddress, TenantId> _owners = new();

    /// <inheritdoc />
    public ValueTask<AddressClaimResult> ClaimAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        InboxNames.ThrowIfDefault(tenant);
        while (true)
        {
            if (_owners.TryAdd(address, tenant))
            {
                return ValueTask.FromResult(AddressClaimResult.Claimed);
            }

            if (_owners.TryGetValue(address, out var owner))
            {
                return ValueTask.FromResult(owner == tenant ? AddressClaimResult.AlreadyHeld : AddressClaimResult.HeldByAnotherTenant);
            }

            // Released between the two calls: try again.
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> ReleaseAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        InboxNames.ThrowIfDefault(tenant);
        return ValueTask.FromResult(_owners.TryRemove(new KeyValuePair<TenantAddress, TenantId>(address, tenant)));
    }

    /// <inheritdoc />
    public ValueTask<TenantId?> FindAsync(TenantAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        return ValueTask.FromResult<TenantId?>(_owners.TryGetValue(address, out var owner) ? owner : null);
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<TenantAddress>> ListAsync(TenantId tenant, string provider, CancellationToken cancellationToken = default)
    {
        InboxNames.ThrowIfDefault(tenant);
        InboxNames.ThrowIfInvalidName(provider, nameof(provider));
        var list = new List<TenantAddress>();
        foreach (var (address, owner) in _owners)
        {
            if (owner == tenant && string.Equals(address.Provider, provider, StringComparison.Ordinal))
            {
                list.Add(address);
            }
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.Value, b.Value));
        return ValueTask.FromResult<IReadOnlyList<TenantAddress>>(list);
    }
}
