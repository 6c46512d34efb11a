using System.Text.Json.Serialization;

namespace MultiTenant.CloudApi;

/// <summary>
/// The credentials as stored in the tenant's state store (namespace <c>cloudapi</c>, key <c>credentials</c>). Version 2: the secrets
/// are in <see cref="ProtectedSecrets"/> (a <see cref="StoredSecrets"/> document encrypted by the secret protector, base64 in the
/// JSON). Version 1 (earlier versions): <see cref="AccessToken"/> in clear, read but never written.
/// </summary>
internal sealed class StoredCredentials
{
    public int Version { get; set; } = 1;

    public string? PhoneNumberId { get; set; }

    /// <summary>Version 1 only: the token in clear.</summary>
    public string? AccessToken { get; set; }

    public string? WabaId { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Version 2: the encrypted <see cref="StoredSecrets"/>.</summary>
    public byte[]? ProtectedSecrets { get; set; }
}

/// <summary>Every secret of a tenant's Cloud API credentials; encrypted as one document. New secrets are added here.</summary>
internal sealed class StoredSecrets
{
    public string? AccessToken { get; set; }
}
