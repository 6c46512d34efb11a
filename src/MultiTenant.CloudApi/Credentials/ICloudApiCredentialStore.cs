namespace MultiTenant.CloudApi;

/// <summary>
/// Reads and writes tenants' Cloud API credentials. They live in each tenant's own state store (namespace <c>cloudapi</c>), so they
/// are as durable as the store (PostgreSQL, or process memory with the embedded store). The access token (and every other secret of
/// the credentials) is encrypted with <see cref="MultiTenant.Secrets.ITenantSecretProtector"/> before it reaches the store; the
/// store holds the phone number id, the account id and ciphertext. Credentials stored in clear by earlier versions are still read,
/// and are stored encrypted when they are next set or the tenant next starts.
/// </summary>
/// <remarks>
/// Setting credentials claims the phone number id in the shared phone number index that routes webhooks (durable with PostgreSQL, so
/// every host of a fleet routes the same way; one number belongs to one tenant), moves webhook items that arrived for the number
/// before it was claimed into the tenant's inbox, and a tenant running on this host uses the new credentials at once. Deleting them
/// releases the number. Reading never claims anything. A tenant running on another host picks them up at its next connect, or when Graph rejects the old
/// token. Credentials may be set before the tenant is started for the first time.
/// </remarks>
public interface ICloudApiCredentialStore
{
    /// <summary>Reads a tenant's credentials, or <see langword="null"/> when none are set.</summary>
    /// <exception cref="InvalidDataException">
    /// The stored credentials are unreadable: malformed, or they cannot be decrypted (altered, copied from another tenant, or encrypted
    /// with a key this host does not have). The message says so without any secret; setting the credentials again repairs it.
    /// </exception>
    ValueTask<CloudApiCredentials?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Sets (inserts or replaces) a tenant's credentials.</summary>
    /// <exception cref="CloudApiPhoneNumberInUseException">Another tenant holds the same phone number id (of concurrent sets for one
    /// number, exactly one succeeds).</exception>
    ValueTask SetAsync(TenantId tenant, CloudApiCredentials credentials, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a tenant's credentials. A tenant running on this host goes to the error state (it cannot send without them).
    /// Returns whether there were any.
    /// </summary>
    ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default);
}

/// <summary>
/// The phone number id is already held by another tenant: one number belongs to one tenant. The exception does not name that tenant
/// (a tenant-scoped caller must not learn another tenant's id).
/// </summary>
public sealed class CloudApiPhoneNumberInUseException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public CloudApiPhoneNumberInUseException(string phoneNumberId)
        : base($"The phone number id {phoneNumberId} already belongs to another tenant; remove it there first.")
    {
        PhoneNumberId = phoneNumberId;
    }

    /// <summary>The phone number id.</summary>
    public string PhoneNumberId { get; }
}
