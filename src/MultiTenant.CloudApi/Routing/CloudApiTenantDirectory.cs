using System.Collections.Concurrent;
using MultiTenant.CloudApi.Client;

namespace MultiTenant.CloudApi.Routing;

/// <summary>
/// This host's map from business phone number ids to tenants, and the Cloud API clients running here. Webhook deliveries are routed
/// through it: phone number id → tenant → that tenant's running client → its event channel.
/// </summary>
/// <remarks>
/// The index lives in memory and is rebuilt as tenants start (each client claims its number) and as credentials are set or read
/// through <see cref="ICloudApiCredentialStore"/> on this host. A tenant whose credentials were stored before the process started
/// and that has not run since is therefore unknown here until it starts, and its deliveries count as unknown numbers.
/// Lookups are lock-free; changes (rare: credentials set, tenants started and stopped) take a short lock.
/// </remarks>
internal sealed class CloudApiTenantDirectory
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, TenantId> _owners = new(StringComparer.Ordinal);
    private readonly Dictionary<TenantId, string> _numbers = [];
    private readonly ConcurrentDictionary<TenantId, CloudApiClient> _clients = new();

    /// <summary>Phone numbers known to this host.</summary>
    public int Count => _owners.Count;

    public bool TryGetOwner(string phoneNumberId, out TenantId tenant) => _owners.TryGetValue(phoneNumberId, out tenant);

    public CloudApiClient? FindClient(TenantId tenant) => _clients.TryGetValue(tenant, out var client) ? client : null;

    /// <exception cref="CloudApiPhoneNumberInUseException">Another tenant claimed the number.</exception>
    public void ThrowIfClaimedByOther(TenantId tenant, string phoneNumberId)
    {
        if (_owners.TryGetValue(phoneNumberId, out var owner) && owner != tenant)
        {
            throw new CloudApiPhoneNumberInUseException(phoneNumberId, owner);
        }
    }

    /// <summary>Records that <paramref name="tenant"/> uses <paramref name="phoneNumberId"/> (and no longer its previous number).</summary>
    /// <returns><see langword="false"/> when another tenant holds the number and <paramref name="throwOnConflict"/> is false.</returns>
    /// <exception cref="CloudApiPhoneNumberInUseException">Another tenant holds the number and <paramref name="throwOnConflict"/> is true.</exception>
    public bool Claim(TenantId tenant, string phoneNumberId, bool throwOnConflict)
    {
        lock (_gate)
        {
            if (_owners.TryGetValue(phoneNumberId, out var owner) && owner != tenant)
            {
                return throwOnConflict ? throw new CloudApiPhoneNumberInUseException(phoneNumberId, owner) : false;
            }

            if (_numbers.TryGetValue(tenant, out var previous) && !string.Equals(previous, phoneNumberId, StringComparison.Ordinal))
            {
                _owners.TryRemove(new KeyValuePair<string, TenantId>(previous, tenant));
            }

            _numbers[tenant] = phoneNumberId;
            _owners[phoneNumberId] = tenant;
            return true;
        }
    }

    /// <summary>Forgets the tenant's number (its credentials were deleted).</summary>
    public void Release(TenantId tenant)
    {
        lock (_gate)
        {
            if (_numbers.Remove(tenant, out var number))
            {
                _owners.TryRemove(new KeyValuePair<string, TenantId>(number, tenant));
            }
        }
    }

    public void AddClient(CloudApiClient client) => _clients[client.Tenant] = client;

    /// <summary>Removes the client unless a newer client of the same tenant replaced it.</summary>
    public void RemoveClient(CloudApiClient client) =>
        _clients.TryRemove(new KeyValuePair<TenantId, CloudApiClient>(client.Tenant, client));
}
