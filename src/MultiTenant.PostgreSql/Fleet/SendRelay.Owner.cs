using System.Collections.Concurrent;
using System.Globalization;
using MultiTenant.Clients;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The send relay's owner side: claims the sends relayed to this instance, sends them locally and writes the answers.</summary>
internal sealed partial class SendRelay
{
    private static readonly TimeSpan RelayOwnerPollInterval = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RelaySweepInterval = TimeSpan.FromMinutes(1);

    // Rows older than this are left over by a host that died mid-way (a requester gives up after at most RelayTimeout, 2 min at most).
    private static readonly TimeSpan RelayRowMaxAge = TimeSpan.FromMinutes(5);

    // The sends claimed here whose answer is being produced, by request id (awaited when the host stops).
    private readonly ConcurrentDictionary<Guid, Task> _work = new();

    // Claim requests (relay notifications, listening again).
    private readonly WakeSignal _wake;

    /// <summary>Handles a relay notification; returns <see langword="false"/> for the other notifications.</summary>
    public bool OnNotification(string payload)
    {
        if (payload.StartsWith(RelayPrefix, StringComparison.Ordinal))
        {
            if (TryParseRelayPayload(payload.AsSpan(RelayPrefix.Length), out var instance, out _) && instance == _instanceId)
            {
                Wake();
            }

            return true;
        }

        if (payload.StartsWith(RelayedPrefix, StringComparison.Ordinal))
        {
            if (TryParseRelayPayload(payload.AsSpan(RelayedPrefix.Length), out var instance, out var id)
                && instance == _instanceId && _waiters.TryGetValue(id, out var waiter))
            {
                waiter.TrySetResult();
            }

            return true;
        }

        return false;
    }

    /// <summary>Asks the owner loop to claim now (coalesced). Never blocks.</summary>
    public void Wake() => _wake.Wake();

    /// <summary>Answers the sends relayed to this host: on their notification, and every few seconds as a fallback; sweeps old rows.</summary>
    public async Task RunAsync(ITenantHost host, CancellationToken stop)
    {
        long lastSweep = _time.GetTimestamp();
        while (!stop.IsCancellationRequested)
        {
            if (!await _wake.WaitAsync(RelayOwnerPollInterval, stop).ConfigureAwait(false))
            {
                return;
            }

            if (_superseded())
            {
                continue;
            }

            try
            {
                await ClaimAsync(host, stop).ConfigureAwait(false);
                if (_time.GetElapsedTime(lastSweep) >= RelaySweepInterval)
                {
                    lastSweep = _time.GetTimestamp();
                    await using var sweep = _store.CreateCommand(_sql.RelaySweep);
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
    public async Task ClaimAsync(ITenantHost host, CancellationToken stop)
    {
        var claimed = new List<(Guid Id, string Tenant, OutboundMessage Message, Guid Requester)>();
        await using (var command = _store.CreateCommand(_sql.RelayClaim))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = _instanceId });
            command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.RelayTimeout });
            await using var reader = await command.ExecuteReaderAsync(stop).ConfigureAwait(false);
            while (await reader.ReadAsync(stop).ConfigureAwait(false))
            {
                // A row of a version 9 host (rolling upgrade) has no message: recipient and text then.
                var message = reader.IsDBNull(5)
                    ? new OutboundMessage(reader.GetString(2), reader.GetString(3))
                    : OutboundMessageJson.Parse(reader.GetFieldValue<byte[]>(5));
                claimed.Add((reader.GetGuid(0), reader.GetString(1), message, reader.GetGuid(4)));
            }
        }

        foreach (var (id, work) in _work)
        {
            if (work.IsCompleted)
            {
                _work.TryRemove(id, out _);
            }
        }

        foreach (var (id, tenant, message, requester) in claimed)
        {
            _work[id] = AnswerAsync(host, id, tenant, message, requester, stop);
        }

        if (claimed.Count == 100)
        {
            Wake(); // more may be pending
        }
    }

    private async Task AnswerAsync(ITenantHost host, Guid id, string businessId, OutboundMessage message, Guid requester, CancellationToken stop)
    {
        await Task.Yield();
        string? messageId = null, error = null, kind = null, state = null, code = null;
        bool? transient = null;
        long? retryAfterMs = null;
        try
        {
            var tenant = TenantId.Parse(businessId);
            var result = await host.SendLocalAsync(tenant, message, stop).ConfigureAwait(false);
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
            var complete = new NpgsqlBatchCommand(_sql.RelayComplete);
            complete.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
            complete.Parameters.Add(Text(messageId));
            complete.Parameters.Add(Text(error));
            complete.Parameters.Add(Text(kind));
            complete.Parameters.Add(Text(state));
            complete.Parameters.Add(new NpgsqlParameter { Value = transient is { } t ? t : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Boolean });
            complete.Parameters.Add(Text(code));
            complete.Parameters.Add(new NpgsqlParameter { Value = retryAfterMs is { } ms ? ms : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
            batch.BatchCommands.Add(complete);
            batch.BatchCommands.Add(_channel.Notify(RelayPayload(RelayedPrefix, requester, id)));
            await batch.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            // The requester times out.
            FleetLog.CoordinationFailed(_logger, "relay answer", ex);
        }
    }

    /// <summary>Waits for the answers being produced here (after the owner loop stopped).</summary>
    public Task DrainAsync() => Task.WhenAll(_work.Values);

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
