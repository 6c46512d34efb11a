using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using MultiTenant.Secrets;
using MultiTenant.Storage;
using MultiTenant.Wuzapi.Engine;

namespace MultiTenant.Wuzapi.Users;

/// <summary>A tenant's engine user: the engine it lives on, the engine's user id, its token and webhook HMAC key, and whether a device was paired.</summary>
internal sealed record EngineUser(string Engine, long UserId, string Token, string HmacKey, bool Paired);

/// <summary>The stored document (namespace <c>wuzapi</c>, key <c>user</c>); the secrets are ciphertext.</summary>
internal sealed class StoredEngineUser
{
    [JsonPropertyName("version")]
    public int Version { get; set; }

    [JsonPropertyName("engine")]
    public string? Engine { get; set; }

    [JsonPropertyName("user_id")]
    public long UserId { get; set; }

    [JsonPropertyName("paired")]
    public bool Paired { get; set; }

    [JsonPropertyName("updated_at")]
    public DateTimeOffset UpdatedAt { get; set; }

    [JsonPropertyName("protected_secrets")]
    public byte[]? ProtectedSecrets { get; set; }
}

/// <summary>The secrets of <see cref="StoredEngineUser"/>, encrypted together.</summary>
internal sealed class StoredEngineSecrets
{
    [JsonPropertyName("token")]
    public string? Token { get; set; }

    [JsonPropertyName("hmac_key")]
    public string? HmacKey { get; set; }
}

/// <summary>
/// Reads and writes a tenant's <see cref="EngineUser"/> in its state store (namespace <see cref="Namespace"/>, key <see cref="UserKey"/>),
/// with the user token and the HMAC key encrypted by <see cref="ITenantSecretProtector"/> (purpose <see cref="Purpose"/>, bound to
/// the tenant): the store sees the engine's name, the user id, the paired flag and ciphertext. The same document on every host of a
/// fleet, so a tenant that moves keeps its engine user (and the engine keeps its session).
/// </summary>
internal sealed class EngineUserStorage(ITenantSecretProtector protector, TimeProvider time)
{
    public const string Namespace = "wuzapi";

    public const string UserKey = "user";

    /// <summary>The phone number to pair by code instead of a QR code (not a secret).</summary>
    public const string PairPhoneKey = "pair-phone";

    public const string Purpose = "wuzapi.user";

    public const int CurrentVersion = 1;

    /// <summary>The tenant's engine user, or <see langword="null"/> when it has none.</summary>
    /// <exception cref="InvalidDataException">The document cannot be read or decrypted (the message says why, without secrets).</exception>
    public async ValueTask<EngineUser?> ReadAsync(ITenantStateStore store, CancellationToken cancellationToken)
    {
        var bytes = await store.GetAsync(Namespace, UserKey, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return null;
        }

        StoredEngineUser? stored;
        try
        {
            stored = JsonSerializer.Deserialize(bytes, WuzapiJsonContext.Default.StoredEngineUser);
        }
        catch (JsonException)
        {
            stored = null;
        }

        if (stored is null || stored.Version != CurrentVersion || string.IsNullOrEmpty(stored.Engine) || stored.ProtectedSecrets is not { Length: > 0 })
        {
            throw new InvalidDataException("The tenant's stored wuzapi engine user is unreadable.");
        }

        var secrets = Unprotect(store.Tenant, stored.ProtectedSecrets);
        if (string.IsNullOrEmpty(secrets.Token) || string.IsNullOrEmpty(secrets.HmacKey))
        {
            throw new InvalidDataException("The tenant's stored wuzapi engine user is unreadable.");
        }

        return new EngineUser(stored.Engine, stored.UserId, secrets.Token, secrets.HmacKey, stored.Paired);
    }

    public ValueTask WriteAsync(ITenantStateStore store, EngineUser user, CancellationToken cancellationToken)
    {
        byte[] secrets = JsonSerializer.SerializeToUtf8Bytes(new StoredEngineSecrets { Token = user.Token, HmacKey = user.HmacKey }, WuzapiJsonContext.Default.StoredEngineSecrets);
        byte[] protectedSecrets;
        try
        {
            protectedSecrets = protector.Protect(store.Tenant, Purpose, secrets);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secrets);
        }

        var stored = new StoredEngineUser
        {
            Version = CurrentVersion,
            Engine = user.Engine,
            UserId = user.UserId,
            Paired = user.Paired,
            UpdatedAt = time.GetUtcNow(),
            ProtectedSecrets = protectedSecrets,
        };
        return store.SetAsync(Namespace, UserKey, JsonSerializer.SerializeToUtf8Bytes(stored, WuzapiJsonContext.Default.StoredEngineUser), cancellationToken);
    }

    /// <summary>A new random secret: 32 bytes as 64 lowercase hex digits.</summary>
    public static string NewSecret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    private StoredEngineSecrets Unprotect(TenantId tenant, byte[] protectedSecrets)
    {
        byte[] secrets;
        try
        {
            secrets = protector.Unprotect(tenant, Purpose, protectedSecrets);
        }
        catch (TenantSecretUnreadableException ex)
        {
            throw new InvalidDataException(
                "The tenant's stored wuzapi engine user cannot be decrypted (altered, copied from another tenant, or encrypted with a key " +
                $"this host does not have: check {TenantSecretsOptions.SectionName}:{nameof(TenantSecretsOptions.KeyEncryptionKey)}).",
                ex);
        }

        try
        {
            return JsonSerializer.Deserialize(secrets, WuzapiJsonContext.Default.StoredEngineSecrets)
                ?? throw new InvalidDataException("The tenant's stored wuzapi engine user is unreadable.");
        }
        catch (JsonException)
        {
            throw new InvalidDataException("The tenant's stored wuzapi engine user is unreadable.");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secrets);
        }
    }
}
