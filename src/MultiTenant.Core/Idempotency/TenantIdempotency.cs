namespace MultiTenant.Idempotency;

/// <summary>The rules of idempotency keys, shared by every <see cref="ITenantIdempotencyStore"/> and the API.</summary>
public static class TenantIdempotency
{
    /// <summary>The longest key: 255 characters.</summary>
    public const int MaxKeyLength = 255;

    /// <summary>The length of a request hash: 32 bytes (SHA-256).</summary>
    public const int HashLength = 32;

    /// <summary>How long a key is remembered from its first use: 24 hours. After that it is free again.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromHours(24);

    /// <summary>How long a claim may stay unfinished before a request with the same body may claim it again: 5 minutes.</summary>
    public static readonly TimeSpan InProgressTimeout = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Why <paramref name="key"/> is not a valid key, or null: 1 to <see cref="MaxKeyLength"/> printable ASCII characters (space to
    /// '~'), not starting or ending with a space.
    /// </summary>
    public static string? ValidateKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return "The Idempotency-Key must not be empty.";
        }

        if (key.Length > MaxKeyLength)
        {
            return $"The Idempotency-Key has at most {MaxKeyLength} characters; it has {key.Length}.";
        }

        foreach (char c in key)
        {
            if (c is < ' ' or > '~')
            {
                return "The Idempotency-Key may hold printable ASCII characters only.";
            }
        }

        return key[0] == ' ' || key[^1] == ' ' ? "The Idempotency-Key must not start or end with a space." : null;
    }

    /// <summary>Checks the arguments of <see cref="ITenantIdempotencyStore.BeginAsync"/> (for implementations of the store).</summary>
    /// <exception cref="ArgumentException">The tenant is default, the key is invalid or the hash is not 32 bytes.</exception>
    public static void ThrowIfInvalid(TenantId tenant, string key, ReadOnlyMemory<byte> requestHash)
    {
        ThrowIfInvalid(tenant, key);
        if (requestHash.Length != HashLength)
        {
            throw new ArgumentException($"A request hash is {HashLength} bytes; this one has {requestHash.Length}.", nameof(requestHash));
        }
    }

    /// <summary>Checks a tenant and a key (for implementations of the store).</summary>
    /// <exception cref="ArgumentException">The tenant is default or the key is invalid.</exception>
    public static void ThrowIfInvalid(TenantId tenant, string key)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }

        if (ValidateKey(key) is { } invalid)
        {
            throw new ArgumentException(invalid, nameof(key));
        }
    }
}
