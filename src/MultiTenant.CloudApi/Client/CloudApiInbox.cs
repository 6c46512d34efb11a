using Microsoft.Extensions.Options;
using MultiTenant.Clients;
using MultiTenant.CloudApi.Webhooks;
using MultiTenant.Inbox;

namespace MultiTenant.CloudApi.Client;

/// <summary>
/// What the Cloud API shares with the Core inbox: the phone number index (<see cref="ITenantAddressIndex"/>, provider
/// <c>cloudapi</c>), the durable inbox the webhook writes into, and the consumers that deliver a running tenant's inbox to its
/// handlers. One per host (DI singleton); the index and the inbox are the store's (in memory, or PostgreSQL for a fleet).
/// </summary>
internal sealed class CloudApiInbox(
    ITenantAddressIndex index,
    ITenantInbox inbox,
    IEnumerable<IInboxEventDecoder> decoders,
    IOptions<InboxDeliveryOptions> delivery,
    InboxMetrics metrics)
{
    public ITenantAddressIndex Index => index;

    public ITenantInbox Inbox => inbox;

    /// <summary>
    /// Claims <paramref name="phoneNumberId"/> for <paramref name="tenant"/>: <see langword="true"/> when it is the tenant's now (or was
    /// already), <see langword="false"/> when another tenant holds it.
    /// </summary>
    public async ValueTask<bool> ClaimAsync(TenantId tenant, string phoneNumberId, CancellationToken cancellationToken) =>
        await index.ClaimAsync(CloudApiInboxDecoder.Address(phoneNumberId), tenant, cancellationToken).ConfigureAwait(false)
            != AddressClaimResult.HeldByAnotherTenant;

    /// <summary>Releases every Cloud API number <paramref name="tenant"/> holds except <paramref name="keep"/>.</summary>
    public async ValueTask ReleaseOthersAsync(TenantId tenant, string? keep, CancellationToken cancellationToken)
    {
        foreach (var address in await index.ListAsync(tenant, CloudApiInboxDecoder.SourceName, cancellationToken).ConfigureAwait(false))
        {
            if (!string.Equals(address.Value, keep, StringComparison.Ordinal))
            {
                await index.ReleaseAsync(address, tenant, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Moves what was kept for <paramref name="phoneNumberId"/> before any tenant held it into the tenant's inbox.</summary>
    public ValueTask<int> AdoptUnroutedAsync(TenantId tenant, string phoneNumberId, CancellationToken cancellationToken) =>
        inbox.AdoptUnroutedAsync(CloudApiInboxDecoder.Address(phoneNumberId), tenant, cancellationToken);

    /// <summary>A started consumer of the tenant's inbox for the run <paramref name="context"/> belongs to.</summary>
    public TenantInboxConsumer StartConsumer(TenantClientContext context)
    {
        var consumer = new TenantInboxConsumer(inbox, decoders, context, delivery.Value, metrics);
        consumer.Start();
        return consumer;
    }
}
