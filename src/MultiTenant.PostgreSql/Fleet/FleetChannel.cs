using Microsoft.Extensions.Logging;
using Npgsql;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>
/// The fleet's notification channel, one job: a dedicated LISTEN connection per host (a <see cref="PostgreSqlNotificationListener"/>, the
/// same loop the inbox listens with) that hands every notification's payload to <c>onNotification</c>, reconnects after a failure, and
/// calls <c>onListening</c> each time it listens again (notifications sent meanwhile are lost, so the owner catches up); and the NOTIFY
/// commands other parts add to their batches.
/// </summary>
internal sealed class FleetChannel(
    NpgsqlDataSource coordination, FleetStatements sql, TimeProvider time, ILogger logger, Action<string> onNotification, Action onListening)
{
    // Its failures are logged as PostgreSqlEventIds.NotificationListenerFailed, with the channel's name.
    private readonly PostgreSqlNotificationListener _listener = new(
        coordination, sql.Channel, payload => Dispatch(payload, onNotification, onListening), time, logger);

    /// <summary>The channel's name (<see cref="FleetStatements.Channel"/>).</summary>
    public string Name => sql.Channel;

    /// <summary>Listens until <paramref name="stop"/> is cancelled.</summary>
    public Task RunAsync(CancellationToken stop) => _listener.RunAsync(stop);

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

    /// <summary>A payload goes to <paramref name="onNotification"/>; <see langword="null"/> (listening again) to <paramref name="onListening"/>.</summary>
    private static void Dispatch(string? payload, Action<string> onNotification, Action onListening)
    {
        if (payload is null)
        {
            onListening();
        }
        else
        {
            onNotification(payload);
        }
    }
}
