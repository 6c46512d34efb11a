using MultiTenant.CloudApi.Client;
using MultiTenant.CloudApi.Routing;
using MultiTenant.CloudApi.Webhooks;
using MultiTenant.Inbox;
using MultiTenant.Storage;

namespace MultiTenant.CloudApi;

/// <summary>
/// The <see cref="ICloudApiCredentialStore"/> over the tenants' state stores, and the phone number claims in the shared
/// <see cref="ITenantAddressIndex"/>: a set claims the number first (of concurrent sets for one number exactly one tenant wins), a
/// delete releases it, a read never claims.
/// </summary>
internal sealed class CloudApiCredentialStore(
    ITenantStateStoreProvider stores, CredentialStorage storage, CloudApiTenantDirectory directory, CloudApiInbox inbox, TimeProvider timeProvider)
    : ICloudApiCredentialStore
{
    public async ValueTask<CloudApiCredentials?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
        (await GetWithTimestampAsync(tenant, cancellationToken).ConfigureAwait(false))?.Credentials;

    public async ValueTask<(CloudApiCredentials Credentials, DateTimeOffset UpdatedAt)?> GetWithTimestampAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        ThrowIfDefault(tenant);
        var stored = await storage.ReadAsync(stores.GetStore(tenant), cancellationToken).ConfigureAwait(false);
        return stored is { } found ? (found.Credentials, found.UpdatedAt) : null;
    }

    public async ValueTask SetAsync(TenantId tenant, CloudApiCredentials credentials, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(credentials);
        var address = CloudApiInboxDecoder.Address(credentials.PhoneNumberId);
        var claim = await inbox.Index.ClaimAsync(address, tenant, cancellationToken).ConfigureAwait(false);
        if (claim == AddressClaimResult.HeldByAnotherTenant)
        {
            throw new CloudApiPhoneNumberInUseException(credentials.PhoneNumberId);
        }

        try
        {
            await storage.WriteAsync(stores.GetStore(tenant), credentials, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        }
        catch when (claim == AddressClaimResult.Claimed)
        {
            // Not stored: give the number back rather than hold it for credentials that do not exist.
            await inbox.Index.ReleaseAsync(address, tenant, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        // The tenant's previous number (if it changed) is free again; what arrived for the new one before the claim is the tenant's.
        await inbox.ReleaseOthersAsync(tenant, credentials.PhoneNumberId, cancellationToken).ConfigureAwait(false);
        await inbox.AdoptUnroutedAsync(tenant, credentials.PhoneNumberId, cancellationToken).ConfigureAwait(false);
        directory.FindClient(tenant)?.UseCredentials(credentials);
    }

    public async ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        bool existed = await stores.GetStore(tenant).DeleteAsync(CredentialStorage.Namespace, CredentialStorage.Key, cancellationToken).ConfigureAwait(false);
        await inbox.ReleaseOthersAsync(tenant, keep: null, cancellationToken).ConfigureAwait(false);
        directory.FindClient(tenant)?.OnCredentialsDeleted();
        return existed;
    }

    private static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant; use TenantId.Parse.", nameof(tenant));
        }
    }
}
