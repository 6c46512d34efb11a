using Microsoft.Extensions.Logging;
using Npgsql;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The fleet's notification channel, one job: a dedicated LISTEN connection per host that hands every notification's payload to
/// <c>onNotification</c>, reconnects after a failure, and calls <c>onListening</c> each time it listens again (notifications sent meanwhile
/// are lost, so the owner catches up); and the NOTIFY commands other parts add to their batches.
/// </summary>
internal sealed class FleetChannel(
    NpgsqlDataSource coordination, FleetStatements sql, TimeProvider time, ILogger logger, Action<string> onNotification, Action onListening)
{
    // Wake up now and then to find a dead connection (WaitAsync alone may wait forever on a silently dropped socket).
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>The channel's name (<see cref="FleetStatements.Channel"/>).</summary>
    public string Name => sql.Channel;

    /// <summary>Listens until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await coordination.OpenConnectionAsync(stop).ConfigureAwait(false);
                connection.Notification += (_, e) => onNotification(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN \"{sql.Channel}\"", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                onListening();
                while (!stop.IsCancellationRequested)
                {
                    if (!await connection.WaitAsync(PingInterval, stop).ConfigureAwait(false))
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
                FleetLog.CoordinationFailed(logger, "notification listener", ex);
                if (!await FleetLoop.DelayAsync(RetryDelay, time, stop).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
    }

    /// <summary>A command that notifies <paramref name="payload"/> on the channel, for a batch (sent when the batch commits).</summary>
    public NpgsqlBatchCommand Notify(string payload)
    {
        var notify = new NpgsqlBatchCommand(sql.Notify);
        notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sql.Channel });
        notify.Parameters.Add(new NpgsqlParameter<string> { TypedValue = payload });
        return notify;
    }

    /// <summary>Notifies <paramref name="payload"/> on the channel now.</summary>
    public async Task NotifyAsync(string payload, CancellationToken cancellationToken)
    {
        await using var batch = coordination.CreateBatch();
        batch.BatchCommands.Add(Notify(payload));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
