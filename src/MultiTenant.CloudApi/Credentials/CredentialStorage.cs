using System.Security.Cryptography;
using System.Text.Json;
using MultiTenant.CloudApi.Routing;
using MultiTenant.Secrets;
using MultiTenant.Storage;

namespace MultiTenant.CloudApi;

/// <summary>
/// Reads and writes the credentials document in a tenant's state store (namespace <c>cloudapi</c>, key <c>credentials</c>). Every
/// secret of the document (today the access token) is encrypted with <see cref="ITenantSecretProtector"/> (purpose
/// <see cref="Purpose"/>, bound to the tenant) before it reaches the store; the store sees the phone number id, the account id, the
/// time of the change and ciphertext. Documents of version 1 (written by earlier versions, token in clear) are still read, and are
/// written encrypted the next time the credentials are set or the tenant starts.
/// </summary>
internal sealed class CredentialStorage(ITenantSecretProtector protector)
{
    /// <summary>The state store namespace of the package's own values.</summary>
    public const string Namespace = "cloudapi";

    public const string Key = "credentials";

    /// <summary>The purpose the secrets are protected for (with the tenant).</summary>
    public const string Purpose = "cloudapi.credentials";

    /// <summary>The document version with encrypted secrets; version 1 held the token in clear.</summary>
    public const int CurrentVersion = 2;

    public async ValueTask<StoredCredentialsRead?> ReadAsync(ITenantStateStore store, CancellationToken cancellationToken)
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

        if (stored is null)
        {
            throw Unreadable();
        }

        string? accessToken;
        bool legacy;
        switch (stored.Version)
        {
            case 1 when stored.ProtectedSecrets is null:
                accessToken = stored.AccessToken;
                legacy = true;
                break;
            case CurrentVersion when stored.AccessToken is null && stored.ProtectedSecrets is { Length: > 0 }:
                accessToken = UnprotectSecrets(store.Tenant, stored.ProtectedSecrets).AccessToken;
                legacy = false;
                break;
            case > CurrentVersion:
                throw new InvalidDataException(
                    $"The tenant's stored Cloud API credentials were written by a newer version of MultiTenant.CloudApi (document version {stored.Version}); upgrade this host.");
            default:
                throw Unreadable();
        }

        if (CloudApiCredentials.Validate(stored.PhoneNumberId, accessToken, stored.WabaId) is not null)
        {
            throw Unreadable();
        }

        return new StoredCredentialsRead(new CloudApiCredentials(stored.PhoneNumberId!, accessToken!, stored.WabaId), stored.UpdatedAt, legacy);
    }

    public ValueTask WriteAsync(ITenantStateStore store, CloudApiCredentials credentials, DateTimeOffset updatedAt, CancellationToken cancellationToken)
    {
        byte[] secrets = JsonSerializer.SerializeToUtf8Bytes(new StoredSecrets { AccessToken = credentials.AccessToken }, CloudApiJsonContext.Default.StoredSecrets);
        byte[] protectedSecrets;
        try
        {
            protectedSecrets = protector.Protect(store.Tenant, Purpose, secrets);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secrets);
        }

        var stored = new StoredCredentials
        {
            Version = CurrentVersion,
            PhoneNumberId = credentials.PhoneNumberId,
            WabaId = credentials.BusinessAccountId,
            UpdatedAt = updatedAt,
            ProtectedSecrets = protectedSecrets,
        };
        return store.SetAsync(Namespace, Key, JsonSerializer.SerializeToUtf8Bytes(stored, CloudApiJsonContext.Default.StoredCredentials), cancellationToken);
    }

    private StoredSecrets UnprotectSecrets(TenantId tenant, byte[] protectedSecrets)
    {
        byte[] secrets;
        try
        {
            secrets = protector.Unprotect(tenant, Purpose, protectedSecrets);
        }
        catch (TenantSecretUnreadableException ex)
        {
            throw new InvalidDataException(
                "The tenant's stored Cloud API credentials cannot be decrypted (altered, copied from another tenant, or encrypted with a key " +
                $"this host does not have: check {TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.KeyEncryptionKey)} and " +
                $"{nameof(TenantSecretsOptions.PreviousKeyEncryptionKeys)}); set them again.",
                ex);
        }

        try
        {
            return JsonSerializer.Deserialize(secrets, CloudApiJsonContext.Default.StoredSecrets) ?? throw Unreadable();
        }
        catch (JsonException)
        {
            throw Unreadable();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secrets);
        }
    }

    private static InvalidDataException Unreadable() =>
        new("The tenant's stored Cloud API credentials are unreadable; set them again.");
}

/// <summary>Credentials read from the store, when they were set, and whether the document predates encryption (version 1).</summary>
internal readonly record struct StoredCredentialsRead(CloudApiCredentials Credentials, DateTimeOffset UpdatedAt, bool Legacy);
