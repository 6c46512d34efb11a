using System.Collections.Concurrent;
using MultiTenant.CloudApi.Client;

namespace MultiTenant.CloudApi.Routing;

/// <summary>
/// The Cloud API clients running on this host, so that credentials set here reach a running client at once (its other hosts pick
/// them up at their next connect). Phone numbers are not routed here: they live in the shared <see cref="MultiTenant.Inbox.ITenantAddressIndex"/>.
/// </summary>
internal sealed class CloudApiTenantDirectory
{
    private readonly ConcurrentDictionary<TenantId, CloudApiClient> _clients = new();

    public CloudApiClient? FindClient(TenantId tenant) => _clients.TryGetValue(tenant, out var client) ? client : null;

    public void AddClient(CloudApiClient client) => _clients[client.Tenant] = client;

    /// <summary>Removes the client unless a newer client of the same tenant replaced it.</summary>
    public void RemoveClient(CloudApiClient client) =>
        _clients.TryRemove(new KeyValuePair<TenantId, CloudApiClient>(client.Tenant, client));
}
