namespace MultiTenant.Security;

/// <summary>
/// The embedded <see cref="ITenantApiKeyStore"/>: in process memory, for a single host. Not durable: keys are lost at restart.
/// Thread-safe.
/// </summary>
public sealed class InMemoryTenantApiKeyStore : ITenantApiKeyStore, MultiTenant.Storage.ITenantPurgeable
{
    private readonly Lock _lock = new();
    private readonly List<(TenantApiKeyRecord Record, byte[] Hash)> _keys = [];
    private readonly TimeProvider _time;

    /// <summary>Creates an empty store that dates keys with <paramref name="time"/> (default: the system clock).</summary>
    public InMemoryTenantApiKeyStore(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <inheritdoc />
    public ValueTask<TenantApiKeyRecord> CreateAsync(TenantId tenant, ReadOnlyMemory<byte> hash, CancellationToken cancellationToken = default)
    {
        TenantApiKeys.ThrowIfInvalid(tenant, hash);
        var now = _time.GetUtcNow();
        var record = new TenantApiKeyRecord(Guid.NewGuid(), tenant, now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMicrosecond)));
        lock (_lock)
        {
            _keys.Add((record, hash.ToArray()));
        }

        return ValueTask.FromResult(record);
    }

    /// <inheritdoc />
    public ValueTask PurgeAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            _keys.RemoveAll(k => k.Record.Tenant == tenant);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<TenantApiKeyRecord>> ListAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult<IReadOnlyList<TenantApiKeyRecord>>(
                _keys.Where(k => k.Record.Tenant == tenant).Select(k => k.Record).ToArray());
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> RevokeAsync(TenantId tenant, Guid id, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(_keys.RemoveAll(k => k.Record.Id == id && k.Record.Tenant == tenant) > 0);
        }
    }

    /// <inheritdoc />
    public ValueTask<TenantApiKeyRecord?> FindByHashAsync(ReadOnlyMemory<byte> hash, CancellationToken cancellationToken = default)
    {
        TenantApiKeys.ThrowIfInvalidHash(hash);
        TenantApiKeyRecord? found = null;
        lock (_lock)
        {
            // Every stored hash is compared (no early exit), each in constant time.
            foreach (var key in _keys)
            {
                if (TenantApiKeys.HashesEqual(key.Hash, hash.Span))
                {
                    found = key.Record;
                }
            }
        }

        return ValueTask.FromResult(found);
    }
}
