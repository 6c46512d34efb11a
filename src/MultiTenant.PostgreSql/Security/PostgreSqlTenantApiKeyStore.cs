using MultiTenant.Security;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL <see cref="ITenantApiKeyStore"/>: table <c>tenant_api_keys</c> of the store's schema (migration 6), keyed by
/// (business_id, id), holding only SHA-256 hashes. No cache: a revoke is seen by the next request on every host. Thread-safe.
/// </summary>
public sealed class PostgreSqlTenantApiKeyStore : ITenantApiKeyStore
{
    private readonly PostgreSqlTenantStore _store;
    private readonly TimeProvider _time;
    private readonly string _create;
    private readonly string _list;
    private readonly string _revoke;
    private readonly string _find;

    /// <summary>Creates the store over the tables of <paramref name="store"/>; keys are dated with <paramref name="time"/>.</summary>
    public PostgreSqlTenantApiKeyStore(PostgreSqlTenantStore store, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _time = time ?? TimeProvider.System;
        string s = PostgreSqlMigrator.QuoteIdentifier(store.Schema);
        _create = $"INSERT INTO {s}.tenant_api_keys (business_id, id, key_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING created_at";
        _list = $"SELECT id, created_at FROM {s}.tenant_api_keys WHERE business_id = $1 AND revoked_at IS NULL ORDER BY created_at, id";
        _revoke = $"UPDATE {s}.tenant_api_keys SET revoked_at = $3 WHERE business_id = $1 AND id = $2 AND revoked_at IS NULL";

        // The index finds the row; the hash is compared again in constant time below.
        _find = $"SELECT business_id, id, created_at, key_hash FROM {s}.tenant_api_keys WHERE key_hash = $1 AND revoked_at IS NULL";
    }

    /// <inheritdoc />
    public async ValueTask<TenantApiKeyRecord> CreateAsync(TenantId tenant, ReadOnlyMemory<byte> hash, CancellationToken cancellationToken = default)
    {
        TenantApiKeys.ThrowIfInvalid(tenant, hash);
        var id = Guid.NewGuid();
        await using var command = Command(_create);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = hash.ToArray(), NpgsqlDbType = NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = _time.GetUtcNow().UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        var createdAt = (DateTime)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return new TenantApiKeyRecord(id, tenant, new DateTimeOffset(DateTime.SpecifyKind(createdAt, DateTimeKind.Utc)));
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<TenantApiKeyRecord>> ListAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        await using var command = Command(_list);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var list = new List<TenantApiKeyRecord>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            list.Add(new TenantApiKeyRecord(reader.GetGuid(0), tenant, reader.GetFieldValue<DateTimeOffset>(1)));
        }

        return list;
    }

    /// <inheritdoc />
    public async ValueTask<bool> RevokeAsync(TenantId tenant, Guid id, CancellationToken cancellationToken = default)
    {
        await using var command = Command(_revoke);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = _time.GetUtcNow().UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<TenantApiKeyRecord?> FindByHashAsync(ReadOnlyMemory<byte> hash, CancellationToken cancellationToken = default)
    {
        TenantApiKeys.ThrowIfInvalidHash(hash);
        await using var command = Command(_find);
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = hash.ToArray(), NpgsqlDbType = NpgsqlDbType.Bytea });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        byte[] stored = (byte[])reader.GetValue(3);
        if (!TenantApiKeys.HashesEqual(stored, hash.Span) || !TenantId.TryParse(reader.GetString(0), out var tenant))
        {
            return null;
        }

        return new TenantApiKeyRecord(reader.GetGuid(1), tenant, reader.GetFieldValue<DateTimeOffset>(2));
    }

    private NpgsqlCommand Command(string sql)
    {
        var command = _store.DataSource.CreateCommand(sql);
        command.CommandTimeout = _store.CommandTimeoutSeconds;
        return command;
    }
}
