using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MultiTenant.Hosting;
using Npgsql;
using NpgsqlTypes;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The notification channel: one dedicated LISTEN connection per host (every notification wakes the reconciler or the relay), and the NOTIFY commands.</summary>
internal sealed partial class FleetMember
{
    /// <summary>One dedicated connection per host LISTENs to the fleet's channel; every notification triggers a reconcile.</summary>
    private async Task ListenLoopAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _coordination.OpenConnectionAsync(stop).ConfigureAwait(false);
                connection.Notification += (_, e) =>
                {
                    if (!OnRelayNotification(e.Payload))
                    {
                        Poke();
                    }
                };
                await using (var listen = new NpgsqlCommand($"LISTEN \"{Sql.Channel}\"", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                Poke(); // notifications sent while we were not listening are lost: reconcile once
                SignalRelay(); // and answer the sends relayed meanwhile
                while (!stop.IsCancellationRequested)
                {
                    // Wake up now and then to find a dead connection (WaitAsync alone may wait forever on a silently dropped socket).
                    if (!await connection.WaitAsync(TimeSpan.FromSeconds(15), stop).ConfigureAwait(false))
                    {
                        await using var ping = new NpgsqlCommand("SELECT 1", connection);
                        ping.CommandTimeout = 5;
                        await ping.ExecuteScalarAsync(stop).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.IO.IOException or OperationCanceledException)
            {
                FleetLog.CoordinationFailed(_logger, "notification listener", ex);
                if (!await DelayAsync(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
    }

    private async Task NotifyAsync(string payload, CancellationToken cancellationToken)
    {
        await using var batch = _coordination.CreateBatch();
        batch.BatchCommands.Add(NotifyCommand(payload));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private NpgsqlBatchCommand NotifyCommand(string payload)
    {
        var notify = new NpgsqlBatchCommand(Sql.Notify);
        notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = Sql.Channel });
        notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = payload });
        return notify;
    }
}
