using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Webhooks;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql;

/// <summary>
/// The PostgreSQL webhook subscriptions (<see cref="ITenantWebhookSubscriptionStore"/>, table <c>webhook_subscriptions</c>, one row
/// per tenant, secret stored protected) and outbox (<see cref="ITenantWebhookOutbox"/>, table <c>outbox</c>, keyed by (business_id,
/// event id), so a redelivered event is stored once). Durable and shared by every host of a fleet; leases on items keep two hosts from
/// sending one tenant's events at once. Every change of a subscription is announced to every host (<see cref="IWebhookSubscriptionChanges"/>,
/// LISTEN/NOTIFY on one connection per host, opened on the first <see cref="Subscribe"/>). Thread-safe.
/// </summary>
public sealed class PostgreSqlTenantWebhookStore : ITenantWebhookSubscriptionStore, ITenantWebhookOutbox, IWebhookSubscriptionChanges, IAsyncDisposable
{
    private const int MaxErrorLength = 1000;

    private readonly PostgreSqlTenantStore _store;
    private readonly PostgreSqlWebhookStatements _sql;
    private readonly TimeProvider _time;
    private readonly WebhookSubscriptionChangeCallbacks _changes = new();
    private readonly PostgreSqlNotificationListener _listener;
    private int _disposed;

    /// <summary>Creates the store over the tables of <paramref name="store"/> (its data source, schema and timeouts).</summary>
    /// <param name="store">The store whose schema holds the tables (migrated by it).</param>
    /// <param name="timeProvider">The clock of due dates, leases and timestamps; default <see cref="TimeProvider.System"/>.</param>
    /// <param name="logger">The logger of the change listener's connection failures; default none.</param>
    public PostgreSqlTenantWebhookStore(PostgreSqlTenantStore store, TimeProvider? timeProvider = null, ILogger<PostgreSqlTenantWebhookStore>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _sql = new PostgreSqlWebhookStatements(store.Schema);
        _time = timeProvider ?? TimeProvider.System;
        _listener = new PostgreSqlNotificationListener(store.DataSource, _sql.Channel, OnNotification, _time, logger ?? (ILogger)NullLogger.Instance);
    }

    /// <inheritdoc />
    /// <remarks>The first registration opens this host's listening connection; a reconnect after a failure calls back with <see langword="null"/>.</remarks>
    public IDisposable Subscribe(Action<TenantId?> onChanged)
    {
        var registration = _changes.Subscribe(onChanged);
        _listener.EnsureStarted();
        return registration;
    }

    /// <summary>Closes the listening connection. Idempotent (the container disposes the store once per service it is registered as).</summary>
    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _disposed, 1) == 0 ? _listener.DisposeAsync() : ValueTask.CompletedTask;

    /// <inheritdoc />
    public async ValueTask<WebhookSubscription> PutAsync(TenantId tenant, Uri url, IReadOnlyList<string> eventTypes, ReadOnlyMemory<byte> protectedSecret, CancellationToken cancellationToken = default)
    {
        WebhookSubscriptions.ThrowIfInvalid(tenant, url, eventTypes, protectedSecret);
        await using var command = Command(_sql.Put, tenant);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = url.OriginalString });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. eventTypes] });
        command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = protectedSecret.ToArray(), NpgsqlDbType = NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sql.Channel });
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
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _sql.Channel });
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
    public async ValueTask<bool> RetryDeadAsync(TenantId tenant, long itemId, CancellationToken cancellationToken = default) =>
        await RetryAsync(tenant, itemId, cancellationToken).ConfigureAwait(false) > 0;

    /// <inheritdoc />
    public ValueTask<int> RetryAllDeadAsync(TenantId tenant, CancellationToken cancellationToken = default) =>
        RetryAsync(tenant, itemId: null, cancellationToken);

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

    private void OnNotification(string? payload)
    {
        if (payload is null)
        {
            _changes.Raise(null); // (re)connected: changes may have been missed
        }
        else if (TenantId.TryParse(payload, out var tenant))
        {
            _changes.Raise(tenant);
        }
    }

    private async ValueTask<int> RetryAsync(TenantId tenant, long? itemId, CancellationToken cancellationToken)
    {
        WebhookSubscriptions.ThrowIfDefault(tenant);
        await using var command = Command(_sql.RetryDead, tenant);
        command.Parameters.Add(new NpgsqlParameter { Value = itemId is { } id ? id : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = _time.GetUtcNow() });
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
