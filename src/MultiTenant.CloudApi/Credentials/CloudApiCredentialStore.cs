using MultiTenant.CloudApi.Routing;
using MultiTenant.Storage;

namespace MultiTenant.CloudApi;

/// <summary>The <see cref="ICloudApiCredentialStore"/> over the tenants' state stores.</summary>
internal sealed class CloudApiCredentialStore(
    ITenantStateStoreProvider stores, CredentialStorage storage, CloudApiTenantDirectory directory, TimeProvider timeProvider)
    : ICloudApiCredentialStore
{
    public async ValueTask<CloudApiCredentials?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
        (await GetWithTimestampAsync(tenant, cancellationToken).ConfigureAwait(false))?.Credentials;

    public async ValueTask<(CloudApiCredentials Credentials, DateTimeOffset UpdatedAt)?> GetWithTimestampAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        ThrowIfDefault(tenant);
        var stored = await storage.ReadAsync(stores.GetStore(tenant), cancellationToken).ConfigureAwait(false);
        if (stored is not { } found)
        {
            return null;
        }

        directory.Claim(tenant, found.Credentials.PhoneNumberId, throwOnConflict: false);
        return (found.Credentials, found.UpdatedAt);
    }

    public async ValueTask SetAsync(TenantId tenant, CloudApiCredentials credentials, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(credentials);
        directory.ThrowIfClaimedByOther(tenant, credentials.PhoneNumberId);
        await storage.WriteAsync(stores.GetStore(tenant), credentials, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        directory.Claim(tenant, credentials.PhoneNumberId, throwOnConflict: true);
        directory.FindClient(tenant)?.UseCredentials(credentials);
    }

    public async ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        bool existed = await stores.GetStore(tenant).DeleteAsync(CredentialStorage.Namespace, CredentialStorage.Key, cancellationToken).ConfigureAwait(false);
        directory.Release(tenant);
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
