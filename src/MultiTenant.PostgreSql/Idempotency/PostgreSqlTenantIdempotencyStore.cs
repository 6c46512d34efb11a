using MultiTenant.Idempotency;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL <see cref="ITenantIdempotencyStore"/>: table <c>tenant_idempotency_keys</c> of the store's schema (migration 7),
/// keyed by (business_id, key), shared by every host of a fleet. A claim is one atomic <c>INSERT … ON CONFLICT</c>, so of concurrent
/// requests with the same key on any hosts exactly one is <see cref="IdempotencyState.Started"/>. Rows older than
/// <see cref="TenantIdempotency.Retention"/> are free again and pruned (at most once a minute per store, in batches). Thread-safe.
/// </summary>
public sealed class PostgreSqlTenantIdempotencyStore : ITenantIdempotencyStore
{
    private const int PruneBatch = 1000;
    private static readonly TimeSpan PruneInterval = TimeSpan.FromMinutes(1);

    private readonly PostgreSqlTenantStore _store;
    private readonly TimeProvider _time;
    private readonly string _claim;
    private readonly string _read;
    private readonly string _complete;
    private readonly string _release;
    private readonly string _prune;
    private long _nextPruneTicks;

    /// <summary>Creates the store over the tables of <paramref name="store"/>, on <paramref name="time"/> (default: the system clock).</summary>
    public PostgreSqlTenantIdempotencyStore(PostgreSqlTenantStore store, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _time = time ?? TimeProvider.System;
        string t = PostgreSqlMigrator.QuoteIdentifier(store.Schema) + ".tenant_idempotency_keys";

        // $4 now, $5 now - retention (an older row is free), $6 now - in-progress timeout (an older unfinished claim of the same
        // request may be taken over). RETURNING only when this statement inserted or took the row over.
        _claim = $"""
            INSERT INTO {t} AS k (business_id, key, request_hash, state, message_id, created_at, claimed_at)
            VALUES ($1, $2, $3, 'in_progress', NULL, $4, $4)
            ON CONFLICT (business_id, key) DO UPDATE
                SET request_hash = EXCLUDED.request_hash, state = 'in_progress', message_id = NULL,
                    created_at = CASE WHEN k.created_at <= $5 THEN EXCLUDED.created_at ELSE k.created_at END,
                    claimed_at = EXCLUDED.claimed_at
                WHERE k.created_at <= $5
                   OR (k.state = 'in_progress' AND k.claimed_at <= $6 AND k.request_hash = EXCLUDED.request_hash)
            RETURNING 1
            """;
        _read = $"SELECT request_hash, state, message_id FROM {t} WHERE business_id = $1 AND key = $2";
        _complete = $"UPDATE {t} SET state = 'completed', message_id = $3 WHERE business_id = $1 AND key = $2 AND state = 'in_progress'";
        _release = $"DELETE FROM {t} WHERE business_id = $1 AND key = $2 AND state = 'in_progress'";
        _prune = $"DELETE FROM {t} WHERE ctid IN (SELECT ctid FROM {t} WHERE created_at <= $1 LIMIT {PruneBatch})";
    }

    /// <inheritdoc />
    public async ValueTask<IdempotencyResult> BeginAsync(TenantId tenant, string key, ReadOnlyMemory<byte> requestHash, CancellationToken cancellationToken = default)
    {
        TenantIdempotency.ThrowIfInvalid(tenant, key, requestHash);
        var now = _time.GetUtcNow();
        await PruneIfDueAsync(now, cancellationToken).ConfigureAwait(false);
        byte[] hash = requestHash.ToArray();

        // A row released between the claim and the read is claimed again; twice is plenty (a release needs a claim first).
        for (int attempt = 0; ; attempt++)
        {
            await using (var claim = Command(_claim))
            {
                AddKey(claim, tenant, key);
                claim.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = hash, NpgsqlDbType = NpgsqlDbType.Bytea });
                AddTime(claim, now);
                AddTime(claim, now - TenantIdempotency.Retention);
                AddTime(claim, now - TenantIdempotency.InProgressTimeout);
                if (await claim.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
                {
                    return new IdempotencyResult(IdempotencyState.Started, null);
                }
            }

            await using var read = Command(_read);
            AddKey(read, tenant, key);
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                byte[] stored = (byte[])reader.GetValue(0);
                if (!stored.AsSpan().SequenceEqual(hash))
                {
                    return new IdempotencyResult(IdempotencyState.Mismatch, null);
                }

                return reader.GetString(1) == "completed"
                    ? new IdempotencyResult(IdempotencyState.Completed, reader.GetString(2))
                    : new IdempotencyResult(IdempotencyState.InProgress, null);
            }

            if (attempt == 2)
            {
                return new IdempotencyResult(IdempotencyState.InProgress, null);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask CompleteAsync(TenantId tenant, string key, string messageId, CancellationToken cancellationToken = default)
    {
        TenantIdempotency.ThrowIfInvalid(tenant, key);
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        await using var command = Command(_complete);
        AddKey(command, tenant, key);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = messageId });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(TenantId tenant, string key, CancellationToken cancellationToken = default)
    {
        TenantIdempotency.ThrowIfInvalid(tenant, key);
        await using var command = Command(_release);
        AddKey(command, tenant, key);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes up to 1,000 rows older than the retention, at most once a minute (expired rows are free anyway).</summary>
    private async ValueTask PruneIfDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        long due = Interlocked.Read(ref _nextPruneTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextPruneTicks, (now + PruneInterval).UtcTicks, due) != due)
        {
            return;
        }

        await using var command = Command(_prune);
        AddTime(command, now - TenantIdempotency.Retention);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void AddKey(NpgsqlCommand command, TenantId tenant, string key)
    {
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = key });
    }

    private static void AddTime(NpgsqlCommand command, DateTimeOffset time) =>
        command.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = time.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz });

    private NpgsqlCommand Command(string sql)
    {
        var command = _store.DataSource.CreateCommand(sql);
        command.CommandTimeout = _store.CommandTimeoutSeconds;
        return command;
    }
}
