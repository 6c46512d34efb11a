using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// Membership, one job: this instance's row among the fleet's hosts. It registers under the host id (waiting while a live instance
/// holds it), heartbeats every <see cref="FleetOptions.HeartbeatInterval"/>, notices when another instance took the host id over
/// (<see cref="Superseded"/>; <c>onSuperseded</c> gives the leases up), and leaves the live hosts on shutdown, with a notification.
/// </summary>
internal sealed class FleetMembership(
    NpgsqlDataSource coordination, FleetStatements sql, FleetChannel channel, FleetOptions options, TimeProvider time, ILogger logger,
    Guid instanceId, int commandTimeoutSeconds, Func<bool> heartbeatsPaused, Action onSuperseded)
{
    private Task _leaving = Task.CompletedTask;
    private volatile bool _isLeaving;
    private volatile bool _superseded;

    /// <summary>This instance's host id, set by <see cref="RegisterAsync"/>.</summary>
    public string HostId { get; private set; } = string.Empty;

    /// <summary>Whether this instance began leaving (shutdown): it takes no more tenants.</summary>
    public bool IsLeaving => _isLeaving;

    /// <summary>Whether another instance registered with this host id after this one was counted dead: it is the host now.</summary>
    public bool Superseded => _superseded;

    /// <summary>
    /// Registers this instance under <paramref name="hostId"/>. A previous incarnation (killed, restarted at once) is taken over once it
    /// counts as dead; a live one makes this wait, and after <see cref="FleetOptions.DeadAfter"/> + 2 heartbeats + 1 s fail.
    /// </summary>
    /// <exception cref="PostgreSqlStoreStartupException">Another live instance uses the host id.</exception>
    public async Task RegisterAsync(string hostId, CancellationToken cancellationToken)
    {
        HostId = hostId;
        var giveUp = options.DeadAfter + options.HeartbeatInterval * 2 + TimeSpan.FromSeconds(1);
        long start = time.GetTimestamp();
        bool warned = false;
        while (true)
        {
            await using (var command = CreateCommand(sql.Register))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = instanceId });
                command.Parameters.Add(CapacityParameter());
                command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = options.DeadAfter });
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
                {
                    return;
                }
            }

            if (time.GetElapsedTime(start) > giveUp)
            {
                throw new PostgreSqlStoreStartupException(
                    $"Another live host of the fleet uses the host id '{HostId}'. Give every host its own id (WhatsAppTenants:HostId, HOST_ID in the sample).");
            }

            if (!warned)
            {
                FleetLog.HostIdBusy(logger, HostId);
                warned = true;
            }

            await Task.Delay(options.HeartbeatInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Heartbeats until <paramref name="stop"/>; gives up (once) when another instance took the host id over.</summary>
    public async Task RunHeartbeatsAsync(CancellationToken stop)
    {
        while (await FleetLoop.DelayAsync(options.HeartbeatInterval, time, stop).ConfigureAwait(false))
        {
            if (heartbeatsPaused() || _isLeaving || _superseded)
            {
                continue;
            }

            try
            {
                await using var command = CreateCommand(sql.Heartbeat);
                command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(options.HeartbeatInterval.TotalSeconds * 2));
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = instanceId });
                command.Parameters.Add(CapacityParameter());
                if (await command.ExecuteScalarAsync(stop).ConfigureAwait(false) is null && !_isLeaving)
                {
                    _superseded = true;
                    FleetLog.Superseded(logger, HostId);
                    onSuperseded();
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
            {
                FleetLog.CoordinationFailed(logger, "heartbeat", ex);
                FleetLoop.ClearPoolIfConnectionBroken(coordination, ex);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Begins leaving (once): deletes this instance from the live hosts (so nobody places tenants on it any more) and notifies; its leases
    /// stay held until released. <see cref="LeaveAsync"/> awaits it.
    /// </summary>
    public void BeginLeaving()
    {
        if (_isLeaving)
        {
            return;
        }

        _isLeaving = true;
        _leaving = LeaveCoreAsync();
    }

    /// <summary>Leaves the live hosts (see <see cref="BeginLeaving"/>) and waits until that was written or failed.</summary>
    public Task LeaveAsync()
    {
        BeginLeaving();
        return _leaving;
    }

    private async Task LeaveCoreAsync()
    {
        try
        {
            await using var batch = coordination.CreateBatch();
            batch.Timeout = commandTimeoutSeconds;
            var leave = new NpgsqlBatchCommand(sql.Leave);
            leave.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
            leave.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = instanceId });
            batch.BatchCommands.Add(leave);
            batch.BatchCommands.Add(channel.Notify("leave"));
            await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            FleetLog.CoordinationFailed(logger, "leave", ex);
        }
    }

    private NpgsqlCommand CreateCommand(string text)
    {
        var command = coordination.CreateCommand(text);
        command.CommandTimeout = commandTimeoutSeconds;
        return command;
    }

    private NpgsqlParameter CapacityParameter() =>
        new() { Value = options.Capacity is { } c ? c : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer };
}
