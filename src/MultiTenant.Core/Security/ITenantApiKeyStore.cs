namespace MultiTenant.Security;

/// <summary>
/// Where tenant API keys live: only their SHA-256 hashes, so that a copy of the store lets nobody call the API. Every host of a fleet
/// reads the same store, so a key created or revoked on one host is accepted or refused on every host at once. Thread-safe.
/// </summary>
public interface ITenantApiKeyStore
{
    /// <summary>Stores a new key of <paramref name="tenant"/> by its hash. Returns the stored record.</summary>
    /// <param name="tenant">The tenant the key is scoped to.</param>
    /// <param name="hash">The SHA-256 hash of the key (<see cref="TenantApiKeys.Hash"/>), 32 bytes.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="ArgumentException"><paramref name="tenant"/> is default or <paramref name="hash"/> is not 32 bytes.</exception>
    ValueTask<TenantApiKeyRecord> CreateAsync(TenantId tenant, ReadOnlyMemory<byte> hash, CancellationToken cancellationToken = default);

    /// <summary>The keys of <paramref name="tenant"/> that are not revoked, oldest first (without hashes).</summary>
    ValueTask<IReadOnlyList<TenantApiKeyRecord>> ListAsync(TenantId tenant, CancellationToken cancellationToken = default);

    /// <summary>Revokes key <paramref name="id"/> of <paramref name="tenant"/>. False when no such unrevoked key exists.</summary>
    ValueTask<bool> RevokeAsync(TenantId tenant, Guid id, CancellationToken cancellationToken = default);

    /// <summary>The unrevoked key whose hash is <paramref name="hash"/>, or null. The hash bytes are compared in constant time.</summary>
    ValueTask<TenantApiKeyRecord?> FindByHashAsync(ReadOnlyMemory<byte> hash, CancellationToken cancellationToken = default);
}

/// <summary>A stored tenant API key, without its secret.</summary>
/// <param name="Id">The key's id (used to revoke it).</param>
/// <param name="Tenant">The tenant the key is scoped to.</param>
/// <param name="CreatedAt">When the key was created (UTC).</param>
public sealed record TenantApiKeyRecord(Guid Id, TenantId Tenant, DateTimeOffset CreatedAt);
