using Microsoft.Extensions.Logging;
using Npgsql;

namespace MultiTenant.PostgreSql;

/// <summary>
/// One dedicated connection that LISTENs to a channel and hands every notification's payload to a callback; started on first use,
/// reconnected after a failure (the callback gets <see langword="null"/> then: notifications may have been missed, so waiters should
/// look again). Consumers poll as well, so a lost notification only delays.
/// </summary>
internal sealed class PostgreSqlNotificationListener : IAsyncDisposable
{
    private static readonly TimeSpan Keepalive = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _channel;
    private readonly Action<string?> _onNotification;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _started;

    public PostgreSqlNotificationListener(NpgsqlDataSource dataSource, string channel, Action<string?> onNotification, TimeProvider time, ILogger logger)
    {
        _dataSource = dataSource;
        _channel = channel;
        _onNotification = onNotification;
        _time = time;
        _logger = logger;
    }

    /// <summary>Starts listening, once.</summary>
    public void EnsureStarted()
    {
        if (Volatile.Read(ref _started) == 0 && Interlocked.Exchange(ref _started, 1) == 0)
        {
            _loop = Task.Run(() => RunAsync(_stop.Token));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stop.Dispose();
    }

    /// <summary>
    /// Listens until <paramref name="stop"/> is cancelled (the loop <see cref="EnsureStarted"/> starts; the fleet's channel runs it on
    /// its own): the callback gets every payload, and <see langword="null"/> each time it listens (again).
    /// </summary>
    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(stop).ConfigureAwait(false);
                connection.Notification += (_, e) => _onNotification(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN \"{_channel}\"", connection))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                _onNotification(null); // notifications sent while we were not listening are lost: everyone looks again
                while (!stop.IsCancellationRequested)
                {
                    // Wake up now and then to find a dead connection (WaitAsync alone may wait forever on a silently dropped socket).
                    if (!await connection.WaitAsync(Keepalive, stop).ConfigureAwait(false))
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
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException or OperationCanceledException)
            {
                Log.NotificationListenerFailed(_logger, _channel, ex);
                try
                {
                    await Task.Delay(ReconnectDelay, _time, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
