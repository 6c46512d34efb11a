using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>Membership: registration of this instance under its host id, heartbeats (a superseded instance gives up its tenants), and leaving the live hosts on shutdown.</summary>
internal sealed partial class FleetMember
{
    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        // A previous incarnation with this host id (killed, restarted at once) is taken over once it counts as dead.
        var giveUp = _options.DeadAfter + _options.HeartbeatInterval * 2 + TimeSpan.FromSeconds(1);
        long start = _time.GetTimestamp();
        bool warned = false;
        while (true)
        {
            await using (var command = CreateCoordinationCommand(Sql.Register))
            {
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                command.Parameters.Add(CapacityParameter());
                command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = _options.DeadAfter });
                if (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
                {
                    return;
                }
            }

            if (_time.GetElapsedTime(start) > giveUp)
            {
                throw new PostgreSqlStoreStartupException(
                    $"Another live host of the fleet uses the host id '{HostId}'. Give every host its own id (WhatsAppTenants:HostId, HOST_ID in the sample).");
            }

            if (!warned)
            {
                FleetLog.HostIdBusy(_logger, HostId);
                warned = true;
            }

            await Task.Delay(_options.HeartbeatInterval, _time, cancellationToken).ConfigureAwait(false);
        }
    }

    private void BeginLeaving()
    {
        if (_leaving)
        {
            return;
        }

        _leaving = true;
        _leaveMembership = LeaveMembershipAsync();
    }

    /// <summary>Deletes this host from the live hosts (so nobody places tenants on it any more) and notifies; its leases stay held.</summary>
    private async Task LeaveMembershipAsync()
    {
        try
        {
            await using var batch = _coordination.CreateBatch();
            batch.Timeout = _store.CommandTimeoutSeconds;
            var leave = new NpgsqlBatchCommand(Sql.Leave);
            leave.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
            leave.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
            batch.BatchCommands.Add(leave);
            batch.BatchCommands.Add(NotifyCommand("leave"));
            await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            FleetLog.CoordinationFailed(_logger, "leave", ex);
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken stop)
    {
        while (await DelayAsync(_options.HeartbeatInterval, stop).ConfigureAwait(false))
        {
            if (CoordinationPaused || _leaving || _superseded)
            {
                continue;
            }

            try
            {
                await using var command = CreateCoordinationCommand(Sql.Heartbeat);
                command.CommandTimeout = Math.Max(1, (int)Math.Ceiling(_options.HeartbeatInterval.TotalSeconds * 2));
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = HostId });
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = InstanceId });
                command.Parameters.Add(CapacityParameter());
                if (await command.ExecuteScalarAsync(stop).ConfigureAwait(false) is null && !_leaving)
                {
                    // Another instance registered with this host id after we were counted dead: it is the host now.
                    _superseded = true;
                    FleetLog.Superseded(_logger, HostId);
                    _leases.Lose(_leases.Tenants.ToList(), "superseded by another instance");
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException || (ex is OperationCanceledException && !stop.IsCancellationRequested))
            {
                FleetLog.CoordinationFailed(_logger, "heartbeat", ex);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
