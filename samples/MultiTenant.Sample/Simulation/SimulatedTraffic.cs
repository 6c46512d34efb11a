namespace MultiTenant.Sample.Simulation;

/// <summary>
/// The synthetic inbound traffic of every connected <see cref="SimulatedClient"/>: one timer for the whole process, ticking every
/// 100 ms, that emits the messages due since the last tick round-robin over the connected clients, so that each one receives
/// <see cref="SimulatorOptions.MessagesPerSecond"/> on average.
/// </summary>
/// <remarks>
/// Why one timer and not one per client: a timer per tenant ticking every 100 ms made 10,000 tenants 100,000 timer callbacks a second
/// (and .NET's timer queue walks every short timer on each firing), whatever the message rate; the scale run (tools/scale-run.cs)
/// showed the sample's own traffic generation taking most of the CPU at 10,000 tenants. Here a tick costs one step per message due,
/// not one per tenant. A client whose queue is full (its <c>WriteAsync</c> did not complete at once, the backpressure of the default
/// queue mode) is skipped until that write completes, like a connection that stops reading; the others keep their rate.
/// </remarks>
public sealed class SimulatedTraffic : IDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);

    // After a stall longer than this (a paused process), the messages of the rest are not offered in one burst.
    private static readonly TimeSpan MaxCatchUp = TimeSpan.FromSeconds(1);

    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly List<SimulatedClient> _clients = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly double _perClientPerSecond;
    private Task _loop = Task.CompletedTask;
    private int _next;
    private double _due;

    /// <param name="time">The time of the ticks.</param>
    /// <param name="perClientPerSecond">Messages per second per connected client; 0 emits nothing and starts no timer.</param>
    public SimulatedTraffic(TimeProvider time, double perClientPerSecond)
    {
        _time = time;
        _perClientPerSecond = perClientPerSecond;
    }

    /// <summary>Connected clients receiving traffic.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>Starts sending <paramref name="client"/> its share of the traffic (starts the one timer on first use).</summary>
    public void Add(SimulatedClient client)
    {
        if (_perClientPerSecond <= 0)
        {
            return;
        }

        lock (_gate)
        {
            if (client.TrafficIndex >= 0 || _stopping.IsCancellationRequested)
            {
                return;
            }

            client.TrafficIndex = _clients.Count;
            _clients.Add(client);
            if (_loop.IsCompleted)
            {
                _loop = RunAsync(_stopping.Token);
            }
        }
    }

    /// <summary>Stops sending <paramref name="client"/> traffic (O(1): the last client takes its place).</summary>
    public void Remove(SimulatedClient client)
    {
        lock (_gate)
        {
            int index = client.TrafficIndex;
            if (index < 0)
            {
                return;
            }

            int last = _clients.Count - 1;
            var moved = _clients[last];
            _clients[index] = moved;
            moved.TrafficIndex = index;
            _clients.RemoveAt(last);
            client.TrafficIndex = -1;
        }
    }

    /// <summary>Stops the timer.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _stopping.Cancel();
        }

        _stopping.Dispose();
    }

    /// <summary>Emits the messages due over <paramref name="elapsed"/>, the time since the previous tick.</summary>
    internal void Tick(TimeSpan elapsed)
    {
        lock (_gate)
        {
            int count = _clients.Count;
            if (count == 0)
            {
                _due = 0;
                return;
            }

            _due += _perClientPerSecond * count * elapsed.TotalSeconds;
            // At most one round over the clients that are busy: a tick never spins on a host whose every queue is full.
            int skipped = 0;
            for (; _due >= 1 && skipped < count; _next++)
            {
                if (_next >= count)
                {
                    _next = 0;
                }

                if (_clients[_next].TryEmit())
                {
                    _due--;
                    skipped = 0;
                }
                else
                {
                    skipped++;
                }
            }

            // Messages of busy clients are not owed later: a stalled connection does not catch up in a burst.
            _due -= Math.Floor(_due);
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Period, _time);
        long last = _time.GetTimestamp();
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                // The time that really passed: a busy host's timer fires late and a PeriodicTimer folds missed ticks into one, so
                // counting one period per tick would offer less than the configured rate exactly when the host is loaded.
                long now = _time.GetTimestamp();
                var elapsed = _time.GetElapsedTime(last, now);
                last = now;
                Tick(elapsed < MaxCatchUp ? elapsed : MaxCatchUp);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }
}
