namespace MultiTenant.Secrets;

/// <summary>
/// A protected secret cannot be decrypted: it was altered, it was protected for another tenant or purpose, or the key that protected
/// it is not in the key ring (or the key-encryption key that wraps that key is not configured). The message names the tenant and the
/// purpose, never secret bytes; the cryptographic cause is the <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class TenantSecretUnreadableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="tenant">The tenant.</param>
    /// <param name="purpose">The purpose of the secret.</param>
    /// <param name="innerException">The cause.</param>
    public TenantSecretUnreadableException(TenantId tenant, string purpose, Exception? innerException)
        : base(
            $"A protected secret of tenant {tenant.Value} ({purpose}) cannot be decrypted: it was altered or copied from another tenant, " +
            $"or its key is not in the key ring. If the key-encryption key was rotated, keep the old one in {TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.PreviousKeyEncryptionKeys)}; otherwise set the secret again.",
            innerException)
    {
        Tenant = tenant;
        Purpose = purpose;
    }

    /// <summary>The tenant.</summary>
    public TenantId Tenant { get; }

    /// <summary>The purpose of the secret.</summary>
    public string Purpose { get; }
}

/// <summary>
/// The secrets configuration cannot protect secrets as required: thrown when the host starts (before any tenant runs), for example when
/// the key ring is stored in a database (<c>UsePostgreSql()</c>) and no key-encryption key is configured. The message says what to set.
/// </summary>
public sealed class TenantSecretsConfigurationException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong and what to set.</param>
    public TenantSecretsConfigurationException(string message)
        : base(message)
    {
    }
}
