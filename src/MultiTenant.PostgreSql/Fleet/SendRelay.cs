using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The send relay, one job: sends between the hosts (any host accepts any send). A host that does not run the tenant inserts a request
/// for the lease owner's instance into <c>send_relay</c> and notifies <c>relay:&lt;owner instance&gt;:&lt;id&gt;</c> on the fleet's channel;
/// the owner claims the row, sends through the local client, writes the message id or the error and notifies
/// <c>relayed:&lt;requester instance&gt;:&lt;id&gt;</c>; the requester reads the answer (or polls it, should a notification be lost),
/// deletes the row and answers as a local send would. A relay row carries the whole message, of any kind, as Meta's message object
/// (<see cref="OutboundMessageJson"/>, column <c>message</c> of migration 0010). This file is the requester's side; SendRelay.Owner.cs the owner's.
/// </summary>
/// <remarks>
/// Relayed sends are API load: they use the store's data source, never the coordination pool, so a burst of them cannot delay a renewal.
/// </remarks>
internal sealed partial class SendRelay
{
    private const string RelayPrefix = "relay:";
    private const string RelayedPrefix = "relayed:";
    private const string NotConnectedKind = "not_connected";
    private const string SendKind = "send";
    private static readonly TimeSpan RelayPollInterval = TimeSpan.FromSeconds(1);

    private readonly PostgreSqlTenantStore _store;
    private readonly FleetStatements _sql;
    private readonly FleetChannel _channel;
    private readonly FleetOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LeaseKeeper _leases;
    private readonly Guid _instanceId;
    private readonly Func<bool> _superseded;

    // The requests of this host waiting for their answer's notification, by request id.
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _waiters = new();

    /// <param name="store">The store: its data source carries the relay's rows (API load, not coordination).</param>
    /// <param name="sql">The fleet's statements.</param>
    /// <param name="channel">Requests and answers notify on it.</param>
    /// <param name="options">Validated fleet options (<see cref="FleetOptions.RelayTimeout"/>).</param>
    /// <param name="time">The clock of the waits and polls.</param>
    /// <param name="logger">Logs timed-out and failed relays.</param>
    /// <param name="leases">Which tenants run here (sent locally) and this host instance's id.</param>
    /// <param name="superseded">Whether another instance took this host id over (then this one answers no relayed send).</param>
    public SendRelay(
        PostgreSqlTenantStore store, FleetStatements sql, FleetChannel channel, FleetOptions options, TimeProvider time, ILogger logger,
        LeaseKeeper leases, Func<bool> superseded)
    {
        _store = store;
        _sql = sql;
        _channel = channel;
        _options = options;
        _time = time;
        _logger = logger;
        _leases = leases;
        _instanceId = leases.InstanceId;
        _superseded = superseded;
        _wake = new WakeSignal(time);
    }

    /// <summary>
    /// Sends through <paramref name="host"/> when its lease of <paramref name="tenant"/> is held (and within its deadline), else relays
    /// the send to the owner's instance and answers as the owner's local send did.
    /// </summary>
    /// <param name="host">This host, or <see langword="null"/> before it started (then every send is relayed).</param>
    /// <param name="tenant">The tenant.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the wait (a relayed request not yet claimed is withdrawn).</param>
    /// <exception cref="TenantNotFoundException">No such tenant.</exception>
    /// <exception cref="TenantNotConnectedException">No host runs it, or its owner's client is not connected.</exception>
    /// <exception cref="TenantUnavailableException">The owner did not claim the request in time (withdrawn: a retry is safe).</exception>
    /// <exception cref="TenantSendException">The owner's send failed, or it did not answer in time (<c>relay_timeout</c>).</exception>
    public Task<SendMessageResult> RouteSendAsync(ITenantHost? host, TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return host is not null && _leases.Holds(tenant)
            ? host.SendLocalAsync(tenant, message, cancellationToken)
            : RelaySendAsync(host, tenant, message, cancellationToken);
    }

    private async Task<SendMessageResult> RelaySendAsync(ITenantHost? host, TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        Guid? owner;
        bool desired;
        TenantState? stored;
        await using (var command = _store.CreateCommand(_sql.RelayTarget))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (!reader.GetBoolean(0))
            {
                throw new TenantNotFoundException(tenant);
            }

            owner = reader.IsDBNull(1) ? null : reader.GetGuid(1);
            desired = reader.GetBoolean(2);
            stored = reader.IsDBNull(3) ? null : StatusRows.ParseState(reader.GetString(3));
        }

        if (owner is null)
        {
            // No host runs it: stopped, or waiting for a host (a stored "connected" is stale then).
            var state = !desired ? TenantState.Stopped : stored is null or TenantState.Connected or TenantState.Stopped ? TenantState.Disconnected : stored.Value;
            throw new TenantNotConnectedException(tenant, state);
        }

        if (owner == _instanceId && host is not null)
        {
            return await host.SendLocalAsync(tenant, message, cancellationToken).ConfigureAwait(false);
        }

        var id = Guid.NewGuid();
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters[id] = answered;
        bool inserted = false;
        try
        {
            await using (var batch = _store.DataSource.CreateBatch())
            {
                batch.Timeout = _store.CommandTimeoutSeconds;
                var insert = new NpgsqlBatchCommand(_sql.RelayInsert);
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.Value });
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _instanceId });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.To });
                // text: what a host of schema version 9 reads during a rolling upgrade (empty for another kind, which it cannot send).
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Text });
                insert.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = OutboundMessageJson.ToUtf8Bytes(message), NpgsqlDbType = NpgsqlDbType.Jsonb });
                batch.BatchCommands.Add(insert);
                batch.BatchCommands.Add(_channel.Notify(RelayPayload(RelayPrefix, owner.Value, id)));
                await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                inserted = true;
            }

            long start = _time.GetTimestamp();
            while (true)
            {
                var remaining = _options.RelayTimeout - _time.GetElapsedTime(start);
                if (remaining <= TimeSpan.Zero)
                {
                    FleetLog.RelayTimedOut(_logger, tenant.Value, owner.Value, _options.RelayTimeout);
                    if (await WithdrawRelayRequestAsync(id, cancellationToken).ConfigureAwait(false))
                    {
                        // Never claimed, and withdrawn: it cannot be sent any more, so a retry is safe.
                        inserted = false;
                        throw new TenantUnavailableException(tenant, RelayPollInterval);
                    }

                    if (await ReadRelayAnswerAsync(tenant, id, cancellationToken).ConfigureAwait(false) is { } late)
                    {
                        return late;
                    }

                    throw new TenantSendException(
                        "The host running the tenant took the message but did not answer in time; it may or may not have been sent.", isTransient: true, errorCode: "relay_timeout");
                }

                try
                {
                    await answered.Task.WaitAsync(remaining < RelayPollInterval ? remaining : RelayPollInterval, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Poll: the answer's notification may have been lost.
                }

                if (await ReadRelayAnswerAsync(tenant, id, cancellationToken).ConfigureAwait(false) is { } result)
                {
                    return result;
                }

                if (answered.Task.IsCompleted)
                {
                    answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _waiters[id] = answered;
                }
            }
        }
        finally
        {
            _waiters.TryRemove(id, out _);
            if (inserted)
            {
                await DeleteRelayRowAsync(id).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads a relayed send's answer: <see langword="null"/> while unanswered; throws the answer's error.</summary>
    private async Task<SendMessageResult?> ReadRelayAnswerAsync(TenantId tenant, Guid id, CancellationToken cancellationToken)
    {
        await using var command = _store.CreateCommand(_sql.RelayRead);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        if (!reader.IsDBNull(0))
        {
            return new SendMessageResult(reader.GetString(0));
        }

        string? error = reader.IsDBNull(1) ? null : reader.GetString(1);
        string? kind = reader.IsDBNull(2) ? null : reader.GetString(2);
        if (kind == NotConnectedKind)
        {
            var state = reader.IsDBNull(3) ? null : StatusRows.ParseState(reader.GetString(3));
            throw new TenantNotConnectedException(tenant, state ?? TenantState.Stopped);
        }

        bool transient = !reader.IsDBNull(4) && reader.GetBoolean(4);
        string? code = reader.IsDBNull(5) ? null : reader.GetString(5);
        TimeSpan? retryAfter = reader.IsDBNull(6) ? null : TimeSpan.FromMilliseconds(reader.GetInt64(6));
        throw new TenantSendException(string.IsNullOrEmpty(error) ? "The backend refused the message." : error, transient, code, retryAfter);
    }

    /// <summary>Deletes a relayed send the owner has not claimed; returns whether it did (then the send can never happen).</summary>
    private async Task<bool> WithdrawRelayRequestAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var command = _store.CreateCommand(_sql.RelayWithdraw);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    private async Task DeleteRelayRowAsync(Guid id)
    {
        try
        {
            await using var command = _store.CreateCommand(_sql.RelayDelete);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // Swept later.
            FleetLog.CoordinationFailed(_logger, "relay cleanup", ex);
        }
    }
}
