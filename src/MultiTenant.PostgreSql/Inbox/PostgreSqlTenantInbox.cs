using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Inbox;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL <see cref="ITenantInbox"/>: table <c>inbox</c> keyed by (business_id, item key), so duplicates are absorbed by the
/// database whichever host receives them; <c>inbox_unrouted</c> for addresses no tenant holds yet. Writes notify the schema's inbox
/// channel (LISTEN/NOTIFY), which <see cref="WaitForItemsAsync"/> listens to on one connection per process. Thread-safe.
/// </summary>
public sealed class PostgreSqlTenantInbox : ITenantInbox, IAsyncDisposable
{
    private const int MaxErrorLength = 1000;

    private readonly PostgreSqlTenantStore _store;
    private readonly PostgreSqlInboxStatements _sql;
    private readonly TimeProvider _time;
    private readonly InboxSignals<TenantId> _signals = new();
    private readonly PostgreSqlNotificationListener _listener;

    /// <summary>Creates the inbox over the tables of <paramref name="store"/> (its data source, schema and timeouts).</summary>
    /// <param name="store">The store whose schema holds the inbox (migrated by it).</param>
    /// <param name="timeProvider">The clock of due dates and timestamps; default <see cref="TimeProvider.System"/>.</param>
    /// <param name="logger">The logger; default none.</param>
    public PostgreSqlTenantInbox(PostgreSqlTenantStore store, TimeProvider? timeProvider = null, ILogger<PostgreSqlTenantInbox>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _sql = new PostgreSqlInboxStatements(store.Schema);
        _time = timeProvider ?? TimeProvider.System;
        _listener = new PostgreSqlNotificationListener(store.DataSource, _sql.Channel, OnNotification, _time, logger ?? (ILogger)NullLogger.Instance);
    }

    /// <inheritdoc />
    public async ValueTask<InboxWriteResult> WriteAsync(IReadOnlyList<InboxWrite> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0)
        {
            return default;
        }

        var tenants = new string[items.Count];
        var keys = new string[items.Count];
        var sources = new string[items.Count];
        var kinds = new string[items.Count];
        var payloads = new byte[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            ArgumentNullException.ThrowIfNull(item, nameof(items));
            item.ThrowIfInvalid();
            tenants[i] = item.Tenant.Value;
            keys[i] = item.Key;
            sources[i] = item.Source;
            kinds[i] = item.Kind;
            payloads[i] = item.Payload.ToArray();
        }

        await using var command = Command(_sql.Write);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tenants });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = sources });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = kinds });
        command.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = payloads });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        int added = 0;
        var written = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                written.Add(reader.GetString(0));
                added += reader.GetInt32(1);
            }
        }

        await NotifyAsync(written).ConfigureAwait(false);
        return new InboxWriteResult(added, items.Count - added);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<InboxItem>> ClaimAsync(TenantId tenant, InboxConsumer consumer, int maxItems, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxItems, 1);
        await using var command = Command(_sql.Claim);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = consumer.Id });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = consumer.OwnershipEpoch });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxItems });
        var items = await InboxRows.ReadItemsAsync(command, cancellationToken).ConfigureAwait(false);
        items.Sort(static (a, b) => a.Id.CompareTo(b.Id)); // RETURNING has no order
        return items;
    }

    /// <inheritdoc />
    public async ValueTask<int> ResetClaimsAsync(TenantId tenant, long ownershipEpoch, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        await using var command = Command(_sql.ResetClaims);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = ownershipEpoch });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<int> ReleaseAsync(TenantId tenant, IReadOnlyList<long> itemIds, InboxConsumer consumer, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(itemIds);
        if (itemIds.Count == 0)
        {
            return 0;
        }

        await using var command = Command(_sql.Release);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = [.. itemIds] });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = consumer.Id });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, InboxConsumer consumer, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        await using var command = Command(_sql.Complete);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = itemId });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = consumer.Id });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<bool> FailAsync(TenantId tenant, long itemId, InboxConsumer consumer, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(error);
        string stored = PostgreSqlTenantStore.StorableText(error.Length > MaxErrorLength ? error[..MaxErrorLength] : error)!;
        await using var command = Command(_sql.Fail);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = itemId });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = consumer.Id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = stored });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.TimestampTz, Value = retryAt is { } due ? due : DBNull.Value });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<InboxItem>> ListDeadLettersAsync(TenantId tenant, int limit, long afterId = 0, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = Command(_sql.ListDead);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        return await InboxRows.ReadItemsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> RetryAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        await using var command = Command(_sql.Retry);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = itemId });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        bool retried = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        if (retried)
        {
            await NotifyAsync([tenant.Value]).ConfigureAwait(false);
        }

        return retried;
    }

    /// <inheritdoc />
    public async ValueTask<int> RetryAllAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        await using var command = Command(_sql.RetryAll);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        int retried = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        if (retried > 0)
        {
            await NotifyAsync([tenant.Value]).ConfigureAwait(false);
        }

        return retried;
    }

    /// <inheritdoc />
    public async ValueTask<InboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        ThrowIfDefault(tenant);
        await using var command = Command(_sql.Count);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        long pending = 0, done = 0, dead = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            long count = reader.GetInt64(1);
            switch (reader.GetString(0))
            {
                case "pending": pending = count; break;
                case "done": done = count; break;
                case "dead": dead = count; break;
            }
        }

        return new InboxCounts(pending, done, dead);
    }

    /// <inheritdoc />
    public async ValueTask<int> PurgeCompletedAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default)
    {
        await using var command = Command(_sql.Purge);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = completedBefore });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> WriteUnroutedAsync(TenantAddress address, IReadOnlyList<InboxWrite> items, int capacity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(items);
        var keys = new string[items.Count];
        var sources = new string[items.Count];
        var kinds = new string[items.Count];
        var payloads = new byte[items.Count][];
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            ArgumentNullException.ThrowIfNull(item, nameof(items));
            InboxNames.ThrowIfInvalidKey(item.Key, nameof(item.Key));
            InboxNames.ThrowIfInvalidName(item.Source, nameof(item.Source));
            InboxNames.ThrowIfInvalidName(item.Kind, nameof(item.Kind));
            keys[i] = item.Key;
            sources[i] = item.Source;
            kinds[i] = item.Kind;
            payloads[i] = item.Payload.ToArray();
        }

        await using var connection = await _store.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var lockTable = new NpgsqlCommand(_sql.LockUnrouted, connection, transaction) { CommandTimeout = _store.CommandTimeoutSeconds })
        {
            await lockTable.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        long kept;
        await using (var count = new NpgsqlCommand(_sql.CountUnrouted, connection, transaction) { CommandTimeout = _store.CommandTimeoutSeconds })
        {
            kept = (long)(await count.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        if (kept + items.Count > capacity)
        {
            return false;
        }

        await using (var write = new NpgsqlCommand(_sql.WriteUnrouted, connection, transaction) { CommandTimeout = _store.CommandTimeoutSeconds })
        {
            write.Parameters.Add(new NpgsqlParameter<string> { TypedValue = address.Provider });
            write.Parameters.Add(new NpgsqlParameter<string> { TypedValue = address.Value });
            write.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys });
            write.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = sources });
            write.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = kinds });
            write.Parameters.Add(new NpgsqlParameter<byte[][]> { TypedValue = payloads });
            write.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
            await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <inheritdoc />
    public async ValueTask<int> AdoptUnroutedAsync(TenantAddress address, TenantId tenant, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ThrowIfDefault(tenant);
        await using var command = Command(_sql.Adopt);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = address.Provider });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = address.Value });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        int moved = (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        if (moved > 0)
        {
            await NotifyAsync([tenant.Value]).ConfigureAwait(false);
        }

        return moved;
    }

    /// <inheritdoc />
    public async ValueTask<long> CountUnroutedAsync(CancellationToken cancellationToken = default)
    {
        await using var command = Command(_sql.CountUnrouted);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public Task WaitForItemsAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        ThrowIfDefault(tenant);
        _listener.EnsureStarted();
        return _signals.WaitAsync(tenant, cancellationToken);
    }

    /// <summary>Stops listening for notifications.</summary>
    public ValueTask DisposeAsync() => _listener.DisposeAsync();

    private void OnNotification(string? payload)
    {
        if (payload is null)
        {
            _signals.SignalAll();
        }
        else if (TenantId.TryParse(payload, out var tenant))
        {
            _signals.Signal(tenant);
        }
    }

    /// <summary>
    /// Wakes this process's consumers at once and notifies the other hosts. Best effort, after the commit: a lost notification only
    /// delays the owner until its next poll, so a failure here never fails the write.
    /// </summary>
    private async Task NotifyAsync(List<string> tenants)
    {
        if (tenants.Count == 0)
        {
            return;
        }

        foreach (string tenant in tenants)
        {
            OnNotification(tenant);
        }

        try
        {
            await using var batch = _store.DataSource.CreateBatch();
            batch.Timeout = _store.CommandTimeoutSeconds;
            foreach (string tenant in tenants)
            {
                var notify = new NpgsqlBatchCommand(_sql.Notify);
                notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sql.Channel });
                notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant });
                batch.BatchCommands.Add(notify);
            }

            await batch.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException)
        {
            // Polling picks the items up.
        }
    }

    private NpgsqlCommand Command(string sql)
    {
        var command = _store.DataSource.CreateCommand(sql);
        command.CommandTimeout = _store.CommandTimeoutSeconds;
        return command;
    }

    private static void ThrowIfDefault(TenantId tenant)
    {
        if (tenant.IsDefault)
        {
            throw new ArgumentException("default(TenantId) names no tenant.", nameof(tenant));
        }
    }
}
