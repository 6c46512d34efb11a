namespace MultiTenant.Scheduling;

/// <summary>How a connect attempt that held a slot of the <see cref="AdaptiveConnectLimiter"/> ended.</summary>
internal enum ConnectOutcome
{
    /// <summary>Connected: its latency is a sample of the backend's health.</summary>
    Succeeded,

    /// <summary>Failed or timed out: a sign of an overloaded or failing backend.</summary>
    Failed,

    /// <summary>Stopped, or failed for a reason of the tenant's own (a fatal error): says nothing about the backend.</summary>
    Ignored,
}

/// <summary>
/// Spreads the connects of a host over time (issue 12): at most <see cref="Limit"/> connects at once, and at most a given number of
/// new connects per second. The limit adapts (AIMD): it grows while connects are fast and succeed, and is cut when they slow down
/// or fail, so a restart or failover storm connects as fast as the backend allows, and a backend that suffers gets less load.
/// </summary>
/// <remarks>
/// <para>Growth: +1 per healthy connect below the slow-start threshold (the limit doubles per round trip), +1/limit above it (+1 per
/// round trip). Cut: the limit × <see cref="Decrease"/>, at most once per round trip (the smoothed latency), when the smoothed latency
/// exceeds <see cref="LatencyTolerance"/> × the baseline, or when more than <see cref="MaxFailureRatio"/> of recent connects failed. The
/// baseline is the long-term latency (an average over about 1 / <see cref="LongLatencyAlpha"/> connects: evenly over the first hundred,
/// which is all it is until then), and from then on its lowest value seen, creeping up slowly so a backend that is permanently slower
/// becomes the new normal. It is not the lowest smoothed latency: that one follows the last ten or so connects, and its minimum over a
/// storm lies far below its mean when connect times vary (the first completions of a storm are its fastest connects, too), so ordinary
/// samples read as "twice the baseline" (on fake time, 1,000 connects of 0–50 ms cut the limit from 32 to 4 and took 10.3 s). The latency
/// signal starts after <see cref="WarmUpSamples"/> samples.</para>
/// <para>The rate is a token bucket holding at most one second of tokens. Waiters are served first come, first served. All state is
/// under one short lock; a waiter holds its task and a cancellation registration, nothing else.</para>
/// </remarks>
internal sealed class AdaptiveConnectLimiter : IDisposable
{
    internal const double Decrease = 0.7;
    internal const double LatencyTolerance = 2.0;
    internal const double MaxFailureRatio = 0.2;
    internal const int WarmUpSamples = 20;
    private const double LatencyAlpha = 0.1;

    /// <summary>The weight of a sample in the long-term latency the baseline follows (the first samples are averaged evenly).</summary>
    internal const double LongLatencyAlpha = 0.01;
    private const double FailureAlpha = 0.05;
    private const double BaselineCreep = 0.0001;

    private readonly TimeProvider _time;
    private readonly int _ceiling;
    private readonly double _perSecond;
    private readonly Lock _gate = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private ITimer? _rateTimer;
    private bool _rateTimerArmed;
    private bool _disposed;

    private double _limit;
    private double _slowStartThreshold;
    private int _inFlight;
    private double _tokens;
    private long _tokensAt;
    private double _latency; // smoothed (the last ten or so connects), in seconds
    private double _longLatency; // smoothed slowly (about the last hundred), in seconds
    private double _baseline = double.MaxValue;
    private double _failures; // smoothed ratio
    private int _samples;
    private long _lastDecrease = long.MinValue / 2;

    /// <param name="time">The time of latencies and of the rate.</param>
    /// <param name="ceiling">The highest limit.</param>
    /// <param name="perSecond">New connects per second at most.</param>
    /// <param name="initialLimit">The limit to start from (at most <paramref name="ceiling"/>).</param>
    public AdaptiveConnectLimiter(TimeProvider time, int ceiling, double perSecond, int initialLimit = 32)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(ceiling, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(perSecond, 0);
        _time = time;
        _ceiling = ceiling;
        _perSecond = perSecond;
        _limit = Math.Clamp(initialLimit, 1, ceiling);
        _slowStartThreshold = ceiling;
        _tokens = Burst;
        _tokensAt = time.GetTimestamp();
    }

    /// <summary>The current concurrency limit.</summary>
    public int Limit
    {
        get
        {
            lock (_gate)
            {
                return (int)_limit;
            }
        }
    }

    /// <summary>Connects holding a slot now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Connects waiting for a slot or a token.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiters.Count;
            }
        }
    }

    private double Burst => Math.Max(1, _perSecond);

    /// <summary>
    /// Waits for a slot and a token. The result is the timestamp the slot was granted at: pass it to <see cref="Release"/>, which must
    /// be called exactly once for every completed acquire.
    /// </summary>
    public Task<long> AcquireAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<long>(cancellationToken);
        }

        Waiter waiter;
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            if (_waiters.Count == 0 && _inFlight < (int)_limit && TryTakeTokenLocked(now))
            {
                _inFlight++;
                return Task.FromResult(now);
            }

            waiter = new Waiter(this);
            waiter.Node = _waiters.AddLast(waiter);
            ArmRateTimerLocked();
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.UnsafeRegister(static (s, ct) => ((Waiter)s!).Cancel(ct), waiter);
            if (waiter.Task.IsCompleted)
            {
                waiter.Registration.Dispose();
            }
        }

        return waiter.Task;
    }

    /// <summary>Gives the slot back and feeds the outcome to the limit.</summary>
    /// <param name="grantedAt">The timestamp <see cref="AcquireAsync"/> returned.</param>
    /// <param name="outcome">How the connect ended.</param>
    public void Release(long grantedAt, ConnectOutcome outcome)
    {
        List<(Waiter, long)>? granted;
        lock (_gate)
        {
            long now = _time.GetTimestamp();
            _inFlight--;
            if (outcome != ConnectOutcome.Ignored)
            {
                Observe(now, _time.GetElapsedTime(grantedAt, now).TotalSeconds, outcome == ConnectOutcome.Succeeded);
            }

            granted = PumpLocked(now);
        }

        Complete(granted);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _rateTimer?.Dispose();
        }
    }

    private void Observe(long now, double latency, bool succeeded)
    {
        _failures += FailureAlpha * ((succeeded ? 0 : 1) - _failures);
        if (succeeded)
        {
            // Latency of successes only: a fast refusal would drag the baseline down, a timeout is counted as a failure.
            _samples++;
            _latency = _samples == 1 ? latency : _latency + (LatencyAlpha * (latency - _latency));
            _longLatency += Math.Max(LongLatencyAlpha, 1.0 / _samples) * (latency - _longLatency);
            if (_samples < 1 / LongLatencyAlpha)
            {
                _baseline = _longLatency; // still forming: the first completions of a storm are its fastest connects
            }
            else
            {
                _baseline = _longLatency < _baseline ? _longLatency : _baseline + (BaselineCreep * (_longLatency - _baseline));
            }
        }

        bool slow = _samples > WarmUpSamples && _latency > LatencyTolerance * _baseline;
        bool failing = _failures > MaxFailureRatio;
        if (slow || failing || !succeeded)
        {
            // A single failure neither grows nor cuts the limit; only a trend (the smoothed ratio, the smoothed latency) cuts it.
            if ((slow || failing) && _time.GetElapsedTime(_lastDecrease, now).TotalSeconds >= _latency)
            {
                _lastDecrease = now;
                _limit = Math.Max(1, _limit * Decrease);
                _slowStartThreshold = _limit;
            }

            return;
        }

        _limit = Math.Min(_ceiling, _limit + (_limit < _slowStartThreshold ? 1 : 1 / _limit));
    }

    private bool TryTakeTokenLocked(long now)
    {
        double elapsed = _time.GetElapsedTime(_tokensAt, now).TotalSeconds;
        _tokensAt = now;
        _tokens = Math.Min(Burst, _tokens + (elapsed * _perSecond));
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        return false;
    }

    private List<(Waiter, long)>? PumpLocked(long now)
    {
        List<(Waiter, long)>? granted = null;
        while (_waiters.First is { } first && _inFlight < (int)_limit && TryTakeTokenLocked(now))
        {
            _waiters.RemoveFirst();
            first.Value.Node = null;
            _inFlight++;
            (granted ??= []).Add((first.Value, now));
        }

        ArmRateTimerLocked();
        return granted;
    }

    /// <summary>When waiters wait for a token only (a slot is free), wakes up when the next token is due.</summary>
    private void ArmRateTimerLocked()
    {
        if (_disposed || _rateTimerArmed || _waiters.Count == 0 || _inFlight >= (int)_limit || _tokens >= 1)
        {
            return;
        }

        _rateTimerArmed = true;
        var due = TimeSpan.FromSeconds((1 - _tokens) / _perSecond);
        if (due < TimeSpan.FromTicks(1))
        {
            due = TimeSpan.FromTicks(1);
        }

        if (_rateTimer is null)
        {
            _rateTimer = _time.CreateTimer(static s => ((AdaptiveConnectLimiter)s!).OnRateTimer(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _rateTimer.Change(due, Timeout.InfiniteTimeSpan);
        }

    }

    private void OnRateTimer()
    {
        List<(Waiter, long)>? granted;
        lock (_gate)
        {
            _rateTimerArmed = false;
            granted = PumpLocked(_time.GetTimestamp());
        }

        Complete(granted);
    }

    private static void Complete(List<(Waiter Waiter, long At)>? granted)
    {
        if (granted is null)
        {
            return;
        }

        foreach (var (waiter, at) in granted)
        {
            waiter.Registration.Dispose();
            waiter.TrySetResult(at);
        }
    }

    private void Remove(Waiter waiter, CancellationToken token)
    {
        List<(Waiter, long)>? granted = null;
        lock (_gate)
        {
            if (waiter.Node is null)
            {
                return; // granted meanwhile: the caller releases it
            }

            _waiters.Remove(waiter.Node);
            waiter.Node = null;
            granted = PumpLocked(_time.GetTimestamp());
        }

        waiter.TrySetCanceled(token);
        Complete(granted);
    }

    private sealed class Waiter(AdaptiveConnectLimiter owner) : TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public LinkedListNode<Waiter>? Node;
        public CancellationTokenRegistration Registration;

        public void Cancel(CancellationToken token) => owner.Remove(this, token);
    }
}
