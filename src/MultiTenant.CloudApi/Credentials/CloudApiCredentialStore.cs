using System.Text.Json;
using MultiTenant.CloudApi.Routing;
using MultiTenant.Storage;

namespace MultiTenant.CloudApi;

/// <summary>Reads and writes the credentials document in a tenant's state store.</summary>
internal static class CredentialStorage
{
    /// <summary>The state store namespace of the package's own values.</summary>
    public const string Namespace = "cloudapi";

    public const string Key = "credentials";

    public static async ValueTask<(CloudApiCredentials Credentials, DateTimeOffset UpdatedAt)?> ReadAsync(ITenantStateStore store, CancellationToken cancellationToken)
    {
        var bytes = await store.GetAsync(Namespace, Key, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return null;
        }

        StoredCredentials? stored;
        try
        {
            stored = JsonSerializer.Deserialize(bytes, CloudApiJsonContext.Default.StoredCredentials);
        }
        catch (JsonException)
        {
            stored = null;
        }

        if (stored is null || CloudApiCredentials.Validate(stored.PhoneNumberId, stored.AccessToken, stored.WabaId) is not null)
        {
            throw new InvalidDataException("The tenant's stored Cloud API credentials are unreadable; set them again.");
        }

        return (new CloudApiCredentials(stored.PhoneNumberId!, stored.AccessToken!, stored.WabaId), stored.UpdatedAt);
    }

    public static ValueTask WriteAsync(ITenantStateStore store, CloudApiCredentials credentials, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var stored = new StoredCredentials
        {
            PhoneNumberId = credentials.PhoneNumberId,
            AccessToken = credentials.AccessToken,
            WabaId = credentials.BusinessAccountId,
            UpdatedAt = now,
        };
        return store.SetAsync(Namespace, Key, JsonSerializer.SerializeToUtf8Bytes(stored, CloudApiJsonContext.Default.StoredCredentials), cancellationToken);
    }
}

/// <summary>The <see cref="ICloudApiCredentialStore"/> over the tenants' state stores.</summary>
internal sealed class CloudApiCredentialStore(ITenantStateStoreProvider stores, CloudApiTenantDirectory directory, TimeProvider timeProvider)
    : ICloudApiCredentialStore
{
    public async ValueTask<CloudApiCredentials?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
        (await GetWithTimestampAsync(tenant, cancellationToken).ConfigureAwait(false))?.Credentials;

    public async ValueTask<(CloudApiCredentials Credentials, DateTimeOffset UpdatedAt)?> GetWithTimestampAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        ThrowIfDefault(tenant);
        var stored = await CredentialStorage.ReadAsync(stores.GetStore(tenant), cancellationToken).ConfigureAwait(false);
        if (stored is { } found)
        {
            directory.Claim(tenant, found.Credentials.PhoneNumberId, throwOnConflict: false);
        }

        return stored;
    }

    public async ValueTask SetAsync(TenantId tenant, CloudApiCredentials credentials, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(credentials);
        directory.ThrowIfClaimedByOther(tenant, credentials.PhoneNumberId);
        await CredentialStorage.WriteAsync(stores.GetStore(tenant), credentials, timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
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
