namespace MultiTenant.Secrets;

/// <summary>
/// Encrypts and decrypts secrets (Cloud API access tokens, webhook secrets, anything a store must not hold in clear) for one tenant
/// and one purpose, so that a store only ever sees ciphertext. Registered by <c>AddWhatsAppTenants()</c> as
/// <see cref="DataProtectionTenantSecretProtector"/>; a host may replace it (a KMS, an HSM) by registering its own implementation.
/// Implementations are thread-safe.
/// </summary>
/// <remarks>
/// A protected value is bound to its tenant and purpose: bytes protected for one tenant or purpose cannot be unprotected for another,
/// so a row copied between tenants is refused instead of disclosing the other tenant's secret.
/// </remarks>
public interface ITenantSecretProtector
{
    /// <summary>Encrypts <paramref name="plaintext"/> for <paramref name="tenant"/> and <paramref name="purpose"/>.</summary>
    /// <param name="tenant">The tenant that owns the secret.</param>
    /// <param name="purpose">What the secret is, such as <c>cloudapi.credentials</c>: 1 to 255 characters, no control characters.</param>
    /// <param name="plaintext">The secret.</param>
    /// <returns>The protected bytes (authenticated ciphertext), safe to store.</returns>
    /// <exception cref="ArgumentException"><paramref name="tenant"/> is <c>default</c> or <paramref name="purpose"/> is malformed.</exception>
    byte[] Protect(TenantId tenant, string purpose, byte[] plaintext);

    /// <summary>Decrypts bytes returned by <see cref="Protect"/> for the same tenant and purpose.</summary>
    /// <param name="tenant">The tenant that owns the secret.</param>
    /// <param name="purpose">The purpose given to <see cref="Protect"/>.</param>
    /// <param name="protectedData">The protected bytes.</param>
    /// <returns>The secret.</returns>
    /// <exception cref="ArgumentException"><paramref name="tenant"/> is <c>default</c> or <paramref name="purpose"/> is malformed.</exception>
    /// <exception cref="TenantSecretUnreadableException">
    /// The bytes were altered, were protected for another tenant or purpose, or with a key that is not in the key ring (or whose
    /// key-encryption key is not configured).
    /// </exception>
    byte[] Unprotect(TenantId tenant, string purpose, byte[] protectedData);
}
