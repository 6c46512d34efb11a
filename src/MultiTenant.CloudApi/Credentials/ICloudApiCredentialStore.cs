namespace MultiTenant.CloudApi;

/// <summary>
/// Reads and writes tenants' Cloud API credentials. They live in each tenant's own state store (namespace <c>cloudapi</c>), so they
/// are as durable as the store (PostgreSQL, or process memory with the embedded store). The access token (and every other secret of
/// the credentials) is encrypted with <see cref="MultiTenant.Secrets.ITenantSecretProtector"/> before it reaches the store; the
/// store holds the phone number id, the account id and ciphertext. Credentials stored in clear by earlier versions are still read,
/// and are stored encrypted when they are next set or the tenant next starts.
/// </summary>
/// <remarks>
/// Setting credentials also updates this host's phone number index used to route webhooks, and a tenant running on this host uses
/// the new credentials at once. A tenant running on another host picks them up at its next connect, or when Graph rejects the old
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
    /// <exception cref="CloudApiPhoneNumberInUseException">Another tenant known to this host uses the same phone number id.</exception>
    ValueTask SetAsync(TenantId tenant, CloudApiCredentials credentials, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a tenant's credentials. A tenant running on this host goes to the error state (it cannot send without them).
    /// Returns whether there were any.
    /// </summary>
    ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default);
}

/// <summary>The phone number id is already used by another tenant: one number belongs to one tenant.</summary>
public sealed class CloudApiPhoneNumberInUseException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public CloudApiPhoneNumberInUseException(string phoneNumberId, TenantId owner)
        : base($"The phone number id {phoneNumberId} already belongs to tenant {owner.Value}; remove it there first.")
    {
        PhoneNumberId = phoneNumberId;
        Owner = owner;
    }

    /// <summary>The phone number id.</summary>
    public string PhoneNumberId { get; }

    /// <summary>The tenant that uses it.</summary>
    public TenantId Owner { get; }
}
