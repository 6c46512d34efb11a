using System.Collections.Concurrent;
using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// Sends relayed between the hosts (any host accepts any send): a host that does not run the tenant inserts a request for the lease
/// owner's instance into <c>send_relay</c> and notifies <c>relay:&lt;owner instance&gt;:&lt;id&gt;</c> on the fleet's channel; the owner
/// claims the row, sends through the local client, writes the message id or the error and notifies
/// <c>relayed:&lt;requester instance&gt;:&lt;id&gt;</c>; the requester reads the answer (or polls it, should a notification be lost),
/// deletes the row and answers as a local send would. A relay row holds a recipient and a text: a message of another kind, a reply or a
/// text with a URL preview is refused before anything is written (<see cref="TenantSendException"/> <c>relay_text_only</c>), not
/// relayed without its content.
/// </summary>
internal sealed partial class FleetMember
{
    private const string RelayPrefix = "relay:";
    private const string RelayedPrefix = "relayed:";
    private const string NotConnectedKind = "not_connected";
    private const string SendKind = "send";
    private const string RelayTextOnlyCode = "relay_text_only";
    private const string RelayTextOnlyMessage =
        "Another host of the fleet runs this tenant, and only plain text (no reply, no URL preview) is relayed between hosts so far; nothing was sent. Send this message to the host that runs the tenant.";
    private static readonly TimeSpan RelayPollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RelayOwnerPollInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RelaySweepInterval = TimeSpan.FromMinutes(1);

    // Rows older than this are left over by a host that died mid-way (a requester gives up after at most RelayTimeout, 2 min at most).
    private static readonly TimeSpan RelayRowMaxAge = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _relayWaiters = new();
    private readonly ConcurrentDictionary<Guid, Task> _relayWork = new();
    private readonly WakeSignal _relayWake;

    /// <inheritdoc />
    public Task<SendMessageResult> RouteSendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return _host is { } host && _leases.Holds(tenant)
            ? host.SendLocalAsync(tenant, message, cancellationToken)
            : RelaySendAsync(tenant, message, cancellationToken);
    }

    private async Task<SendMessageResult> RelaySendAsync(TenantId tenant, OutboundMessage message, CancellationToken cancellationToken)
    {
        Guid? owner;
        bool desired;
        TenantState? stored;
        await using (var command = _store.CreateCommand(Sql.RelayTarget))
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

        if (owner == InstanceId && _host is { } host)
        {
            return await host.SendLocalAsync(tenant, message, cancellationToken).ConfigureAwait(false);
        }

        if (message.Content is not TextContent { PreviewUrl: false } || message.ReplyToMessageId is not null)
        {
            // send_relay carries a recipient and a text (migration 0003): anything more would be lost on the way, so it is refused.
            throw new TenantSendException(RelayTextOnlyMessage, isTransient: false, errorCode: RelayTextOnlyCode);
        }

        var id = Guid.NewGuid();
        var answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _relayWaiters[id] = answered;
        bool inserted = false;
        try
        {
            await using (var batch = _store.DataSource.CreateBatch())
            {
                batch.Timeout = _store.CommandTimeoutSeconds;
                var insert = new NpgsqlBatchCommand(Sql.RelayInsert);
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = tenant.Value });
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = owner.Value });
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.To });
                insert.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message.Text });
                batch.BatchCommands.Add(insert);
                batch.BatchCommands.Add(NotifyCommand(RelayPayload(RelayPrefix, owner.Value, id)));
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
                    _relayWaiters[id] = answered;
                }
            }
        }
        finally
        {
            _relayWaiters.TryRemove(id, out _);
            if (inserted)
            {
                await DeleteRelayRowAsync(id).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads a relayed send's answer: <see langword="null"/> while unanswered; throws the answer's error.</summary>
    private async Task<SendMessageResult?> ReadRelayAnswerAsync(TenantId tenant, Guid id, CancellationToken cancellationToken)
    {
        await using var command = _store.CreateCommand(Sql.RelayRead);
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
        await using var command = _store.CreateCommand(Sql.RelayWithdraw);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null;
    }

    private async Task DeleteRelayRowAsync(Guid id)
    {
        try
        {
            await using var command = _store.CreateCommand(Sql.RelayDelete);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            await command.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // Swept later.
            FleetLog.CoordinationFailed(_logger, "relay cleanup", ex);
        }
    }

    /// <summary>Handles a relay notification; returns <see langword="false"/> for the other notifications (which trigger a reconcile).</summary>
    private bool OnRelayNotification(string payload)
    {
        if (payload.StartsWith(RelayPrefix, StringComparison.Ordinal))
        {
            if (TryParseRelayPayload(payload.AsSpan(RelayPrefix.Length), out var instance, out _) && instance == InstanceId)
            {
                SignalRelay();
            }

            return true;
        }

        if (payload.StartsWith(RelayedPrefix, StringComparison.Ordinal))
        {
            if (TryParseRelayPayload(payload.AsSpan(RelayedPrefix.Length), out var instance, out var id)
                && instance == InstanceId && _relayWaiters.TryGetValue(id, out var waiter))
            {
                waiter.TrySetResult();
            }

            return true;
        }

        return false;
    }

    private void SignalRelay() => _relayWake.Wake();

    /// <summary>Answers the sends relayed to this host: on their notification, and every few seconds as a fallback; sweeps old rows.</summary>
    private async Task RelayLoopAsync(CancellationToken stop)
    {
        long lastSweep = _time.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            if (!await _relayWake.WaitAsync(RelayOwnerPollInterval, stop).ConfigureAwait(false))
            {
                return;
            }

            if (_membership.Superseded || _host is not { } coordinator)
            {
                continue;
            }

            try
            {
                await ClaimRelayedSendsAsync(coordinator, stop).ConfigureAwait(false);
                if (_time.GetElapsedTime(lastSweep) >= RelaySweepInterval)
                {
                    lastSweep = _time.GetTimestamp();
                    await using var sweep = _store.CreateCommand(Sql.RelaySweep);
                    sweep.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = RelayRowMaxAge });
                    await sweep.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
            {
                FleetLog.CoordinationFailed(_logger, "relay", ex);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Claims the pending sends relayed to this instance and answers each one as it completes.</summary>
    internal async Task ClaimRelayedSendsAsync(ITenantHost coordinator, CancellationToken stop)
    {
        var claimed = new List<(Guid Id, string Tenant, OutboundMessage Message, Guid Requester)>();
        await using (var command = _store.CreateCommand(Sql.RelayClaim))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.RelayTimeout });
            await using var reader = await command.ExecuteReaderAsync(stop).ConfigureAwait(false);
            while (await reader.ReadAsync(stop).ConfigureAwait(false))
            {
                claimed.Add((reader.GetGuid(0), reader.GetString(1), new OutboundMessage(reader.GetString(2), reader.GetString(3)), reader.GetGuid(4)));
            }
        }

        foreach (var (id, work) in _relayWork)
        {
            if (work.IsCompleted)
            {
                _relayWork.TryRemove(id, out _);
            }
        }

        foreach (var (id, tenant, message, requester) in claimed)
        {
            _relayWork[id] = AnswerRelayedSendAsync(coordinator, id, tenant, message, requester, stop);
        }

        if (claimed.Count == 100)
        {
            SignalRelay(); // more may be pending
        }
    }

    private async Task AnswerRelayedSendAsync(ITenantHost coordinator, Guid id, string businessId, OutboundMessage message, Guid requester, CancellationToken stop)
    {
        await Task.Yield();
        string? messageId = null, error = null, kind = null, state = null, code = null;
        bool? transient = null;
        long? retryAfterMs = null;
        try
        {
            var tenant = TenantId.Parse(businessId);
            var result = await coordinator.SendLocalAsync(tenant, message, stop).ConfigureAwait(false);
            messageId = result.MessageId;
        }
        catch (TenantNotConnectedException ex)
        {
            (kind, state, error) = (NotConnectedKind, ex.State.ToWireName(), ex.Message);
        }
        catch (TenantSendException ex)
        {
            (kind, error, transient, code) = (SendKind, ex.Message, ex.IsTransient, ex.ErrorCode);
            retryAfterMs = ex.RetryAfter is { } retryAfter ? (long)Math.Ceiling(retryAfter.TotalMilliseconds) : null;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // This host stops: the tenant no longer runs here.
            (kind, state, error) = (NotConnectedKind, TenantState.Stopped.ToWireName(), null);
        }
        catch (Exception ex)
        {
            FleetLog.RelayFailed(_logger, businessId, ex);
            (kind, error, transient, code) = (SendKind, "The host running the tenant could not send the message.", true, "relay_failed");
        }

        try
        {
            await using var batch = _store.DataSource.CreateBatch();
            batch.Timeout = _store.CommandTimeoutSeconds;
            var complete = new NpgsqlBatchCommand(Sql.RelayComplete);
            complete.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            complete.Parameters.Add(Text(messageId));
            complete.Parameters.Add(Text(error));
            complete.Parameters.Add(Text(kind));
            complete.Parameters.Add(Text(state));
            complete.Parameters.Add(new NpgsqlParameter { Value = transient is { } t ? t : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Boolean });
            complete.Parameters.Add(Text(code));
            complete.Parameters.Add(new NpgsqlParameter { Value = retryAfterMs is { } ms ? ms : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
            batch.BatchCommands.Add(complete);
            batch.BatchCommands.Add(NotifyCommand(RelayPayload(RelayedPrefix, requester, id)));
            await batch.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The requester times out.
            FleetLog.CoordinationFailed(_logger, "relay answer", ex);
        }
    }

    private static NpgsqlParameter Text(string? value) => new() { Value = value is null ? DBNull.Value : value, NpgsqlDbType = NpgsqlDbType.Text };

    private static string RelayPayload(string prefix, Guid instance, Guid id) =>
        string.Create(CultureInfo.InvariantCulture, $"{prefix}{instance:N}:{id:N}");

    private static bool TryParseRelayPayload(ReadOnlySpan<char> rest, out Guid instance, out Guid id)
    {
        id = Guid.Empty;
        int colon = rest.IndexOf(':');
        return Guid.TryParseExact(colon < 0 ? rest : rest[..colon], "N", out instance)
            && colon >= 0 && Guid.TryParseExact(rest[(colon + 1)..], "N", out id);
    }
}
