using MultiTenant.Webhooks;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL webhook subscriptions (<see cref="ITenantWebhookSubscriptionStore"/>, table <c>webhook_subscriptions</c>, one row
/// per tenant, secret stored protected) and outbox (<see cref="ITenantWebhookOutbox"/>, table <c>outbox</c>, keyed by (business_id,
/// event id), so a redelivered event is stored once). Durable and shared by every host of a fleet; leases on items keep two hosts from
/// sending one tenant's events at once. Thread-safe.
/// </summary>
public sealed class PostgreSqlTenantWebhookStore : ITenantWebhookSubscriptionStore, ITenantWebhookOutbox
{
    private const int MaxErrorLength = 1000;

    private readonly PostgreSqlTenantStore _store;
    private readonly PostgreSqlWebhookStatements _sql;
    private readonly TimeProvider _time;

    /// <summary>Creates the store over the tables of <paramref name="store"/> (its data source, schema and timeouts).</summary>
    /// <param name="store">The store whose schema holds the tables (migrated by it).</param>
    /// <param name="timeProvider">The clock of due dates, leases and timestamps; default <see cref="TimeProvider.System"/>.</param>
    public PostgreSqlTenantWebhookStore(PostgreSqlTenantStore store, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _sql = new PostgreSqlWebhookStatements(store.Schema);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public async ValueTask<WebhookSubscription> PutAsync(TenantId tenant, Uri url, IReadOnlyList<string> eventTypes, ReadOnlyMemory<byte> protectedSecret, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfInvalid(tenant, url, eventTypes, protectedSecret);
        await using var command = Command(_sql.Put, tenant);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = url.OriginalString });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. eventTypes] });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = protectedSecret.ToArray(), NpgsqlDbType = NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return ReadSubscription(reader, tenant);
    }

    /// <inheritdoc />
    public async ValueTask<WebhookSubscription?> GetAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        await using var command = Command(_sql.Get, tenant);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadSubscription(reader, tenant) : null;
    }

    /// <inheritdoc />
    public async ValueTask<bool> DeleteAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        await using var command = Command(_sql.Delete, tenant);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = WebhookSubscriptions.DeletedError });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        return (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! > 0;
    }

    /// <inheritdoc />
    public async ValueTask<bool> EnqueueAsync(TenantId tenant, string eventId, string eventType, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        WebhookOutboxArguments.ThrowIfInvalid(tenant, eventId, eventType);
        await using var command = Command(_sql.Enqueue, tenant);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = eventId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = eventType });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = body.ToArray(), NpgsqlDbType = NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<WebhookOutboxItem?> ClaimAsync(TenantId tenant, Guid sender, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lease, TimeSpan.Zero);
        await using var command = Command(_sql.Claim, tenant);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sender });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = lease });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadItem(reader, tenant) : null;
    }

    /// <inheritdoc />
    public async ValueTask<bool> CompleteAsync(TenantId tenant, long itemId, Guid sender, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        await using var command = Command(_sql.Complete, tenant);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = itemId });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sender });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<bool> FailAsync(TenantId tenant, long itemId, Guid sender, string error, DateTimeOffset? retryAt, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        ArgumentNullException.ThrowIfNull(error);
        await using var command = Command(_sql.Fail, tenant);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = itemId });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sender });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = StatusRows.StorableText(error.Length > MaxErrorLength ? error[..MaxErrorLength] : error) ?? string.Empty });
        command.Parameters.Add(new NpgsqlParameter { Value = retryAt is { } due ? due : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc />
    public async ValueTask<DateTimeOffset?> GetNextAttemptAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        await using var command = Command(_sql.NextAttempt, tenant);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? reader.GetFieldValue<DateTimeOffset>(0) : null;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<TenantId>> ListDueTenantsAsync(int maxTenants, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTenants, 1);
        await using var command = _store.CreateCommand(_sql.DueTenants);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxTenants });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var tenants = new List<TenantId>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TenantId.TryParse(reader.GetString(0), out var tenant))
            {
                tenants.Add(tenant);
            }
        }

        return tenants;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<WebhookOutboxItem>> ListDeadAsync(TenantId tenant, long afterId, int limit, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var command = Command(_sql.ListDead, tenant);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = afterId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var items = new List<WebhookOutboxItem>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(ReadItem(reader, tenant));
        }

        return items;
    }

    /// <inheritdoc />
    public async ValueTask<WebhookOutboxCounts> CountAsync(TenantId tenant, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        await using var command = Command(_sql.Count, tenant);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        int pending = 0, delivered = 0, dead = 0;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            int count = reader.GetInt32(1);
            switch (reader.GetString(0))
            {
                case "pending": pending = count; break;
                case "done": delivered = count; break;
                default: dead = count; break;
            }
        }

        return new WebhookOutboxCounts(pending, delivered, dead);
    }

    /// <inheritdoc />
    public async ValueTask<int> PurgeAsync(DateTimeOffset completedBefore, CancellationToken cancellationToken = default)
    {
        await using var command = _store.CreateCommand(_sql.Purge);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = completedBefore });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A command of one tenant: <c>$1</c> is its business id; the caller adds <c>$2</c>….</summary>
    private NpgsqlCommand Command(string sql, TenantId tenant)
    {
        var command = _store.CreateCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
        return command;
    }

    private static WebhookSubscription ReadSubscription(NpgsqlDataReader reader, TenantId tenant) => new()
    {
        Id = reader.GetGuid(0),
        Tenant = tenant,
        Url = new Uri(reader.GetString(1), UriKind.Absolute),
        EventTypes = reader.GetFieldValue<string[]>(2),
        ProtectedSecret = (byte[])reader.GetValue(3),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(4),
        UpdatedAt = reader.GetFieldValue<DateTimeOffset>(5),
    };

    private static WebhookOutboxItem ReadItem(NpgsqlDataReader reader, TenantId tenant) => new()
    {
        Id = reader.GetInt64(0),
        Tenant = tenant,
        EventId = reader.GetString(1),
        EventType = reader.GetString(2),
        Body = (byte[])reader.GetValue(3),
        CreatedAt = reader.GetFieldValue<DateTimeOffset>(4),
        Attempts = reader.GetInt32(5),
        LastError = reader.IsDBNull(6) ? null : reader.GetString(6),
    };
}
