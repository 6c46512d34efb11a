using System.Security.Claims;
using MultiTenant.Security;

namespace MultiTenant.AspNetCore.Security;

/// <summary>
/// The one check of an API key, shared by the header scheme and the dashboard's browser sign-in: the admin key (compared by hash, in
/// constant time) or a tenant key looked up by its SHA-256 hash in <see cref="ITenantApiKeyStore"/> (no cache, so a revoke is
/// effective at once on every host).
/// </summary>
internal static class TenantApiKeyValidation
{
    /// <summary>The hash of <paramref name="key"/>, or null when it cannot be a key (empty or too long).</summary>
    public static byte[]? HashOf(string? key) =>
        key is null || key.Length == 0 || key.Length > TenantApiKeys.MaxKeyLength ? null : TenantApiKeys.Hash(key);

    /// <summary>The claims of the key whose hash is <paramref name="hash"/>, or null when it is neither the admin key nor a stored key.</summary>
    public static async ValueTask<Claim[]?> ValidateAsync(
        byte[] hash, string? adminKey, ITenantApiKeyStore keys, CancellationToken cancellationToken)
    {
        if (adminKey is { Length: > 0 } admin && TenantApiKeys.HashesEqual(TenantApiKeys.Hash(admin), hash))
        {
            return [new Claim(TenantApiAuthentication.RoleClaim, TenantApiAuthentication.AdminRole)];
        }

        var record = await keys.FindByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        return record is null
            ? null
            :
            [
                new Claim(TenantApiAuthentication.BusinessIdClaim, record.Tenant.Value),
                new Claim(TenantApiAuthentication.KeyIdClaim, record.Id.ToString("D")),
            ];
    }
}
