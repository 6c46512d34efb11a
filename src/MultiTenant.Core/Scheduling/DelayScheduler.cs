namespace MultiTenant.Scheduling;

/// <summary>
/// Many delays on one timer of a <see cref="TimeProvider"/>: the delays wait in a min-heap of exact deadlines and the one timer is
/// armed for the earliest, only while delays are pending (an idle host holds no armed timer). A delay never completes before its
/// deadline; it completes at most <c>resolution</c> after it, because the timer fires at most once per resolution, so a host with
/// 100,000 tenants' health checks wakes up at most 1 / resolution times a second, each time for all the delays due.
/// </summary>
/// <remarks>
/// Costs: start O(log n) under one short lock, cancel O(1) (the entry is marked and skipped when it reaches the top of the heap; when
/// no delay is pending any more the heap is cleared). One allocation per delay: its entry, which is its task's completion source.
/// This replaces a hashed timing wheel (issue 12): a wheel rounds deadlines to its tick, so a delay completed up to a tick early or
/// late, and a test on fake time could not see the exact due time the supervisor asked for.
/// </remarks>
internal sealed class DelayScheduler : IDisposable
{
    private readonly TimeProvider _time;
    private readonly long _resolution;
    private readonly PriorityQueue<Entry, long> _heap = new();
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private long _armedFor = long.MaxValue;
    private long _lastCompletion = long.MinValue / 2;
    private int _count;
    private bool _disposed;

    /// <param name="time">The time of every deadline and of the one timer.</param>
    /// <param name="resolution">The shortest interval between two firings of the timer; zero fires for every distinct deadline.</param>
    public DelayScheduler(TimeProvider time, TimeSpan resolution)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(resolution, TimeSpan.Zero);
        _time = time;
        _resolution = ToTimestamp(resolution);
    }

    /// <summary>Delays pending.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>A task that completes once <paramref name="delay"/> has passed, or is cancelled by <paramref name="cancellationToken"/>.</summary>
    public Task<bool> DelayAsync(TimeSpan delay, CancellationToken cancellationToken = default) => Start(delay, cancellationToken).Task;

    /// <summary>
    /// Starts a delay. Its <see cref="Delay.Task"/> completes once <paramref name="delay"/> has passed, or with <see langword="false"/>
    /// by <see cref="Delay.Interrupt"/> (the event waited for happened first), or is cancelled by <paramref name="cancellationToken"/>
    /// or by <see cref="Delay.Cancel"/>. Interrupt and cancel release the delay at once.
    /// </summary>
    public Delay Start(TimeSpan delay, CancellationToken cancellationToken = default)
    {
        var entry = new Entry(this);
        if (cancellationToken.IsCancellationRequested)
        {
            entry.TryClaim();
            entry.TrySetCanceled(cancellationToken);
            return new Delay(entry);
        }

        if (delay <= TimeSpan.Zero)
        {
            entry.TryClaim();
            entry.TrySetResult(true);
            return new Delay(entry);
        }

        lock (_gate)
        {
            long now = _time.GetTimestamp();
            long ticks = ToTimestamp(delay);
            long deadline = ticks >= long.MaxValue / 2 - now ? long.MaxValue / 2 : now + ticks;
            _heap.Enqueue(entry, deadline);
            _count++;
            ArmLocked(now, fired: false);
        }

        if (cancellationToken.CanBeCanceled)
        {
            entry.Registration = cancellationToken.UnsafeRegister(static (s, ct) => ((Entry)s!).Cancel(ct), entry);
            if (entry.Task.IsCompleted)
            {
                entry.Registration.Dispose(); // fired before the registration existed
            }
        }

        return new Delay(entry);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer?.Dispose();
        }
    }

    private long ToTimestamp(TimeSpan span) => Scale(span.Ticks, _time.TimestampFrequency, TimeSpan.TicksPerSecond);

    private TimeSpan ToTimeSpan(long timestamps) => TimeSpan.FromTicks(Scale(timestamps, TimeSpan.TicksPerSecond, _time.TimestampFrequency));

    /// <summary><paramref name="value"/> × <paramref name="multiplier"/> / <paramref name="divisor"/>, rounded up, saturated.</summary>
    private static long Scale(long value, long multiplier, long divisor)
    {
        if (multiplier == divisor)
        {
            return value;
        }

        Int128 scaled = ((Int128)value * multiplier + divisor - 1) / divisor;
        return scaled > long.MaxValue / 2 ? long.MaxValue / 2 : (long)scaled;
    }

    private void OnTimer()
    {
        List<Entry>? due = null;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            long now = _time.GetTimestamp();
            _armedFor = long.MaxValue;
            while (_heap.TryPeek(out var entry, out long deadline) && (entry.IsDone || deadline <= now))
            {
                _heap.Dequeue();
                if (entry.TryClaim())
                {
                    _count--;
                    (due ??= []).Add(entry);
                }
            }

            if (due is not null)
            {
                _lastCompletion = now;
            }

            ArmLocked(now, fired: true);
        }

        if (due is not null)
        {
            foreach (var entry in due)
            {
                entry.Registration.Dispose();
                entry.TrySetResult(true);
            }
        }
    }

    /// <summary>Arms the timer for the earliest live deadline (not sooner than a resolution after the last completion), or disarms it.</summary>
    private void ArmLocked(long now, bool fired)
    {
        if (_disposed)
        {
            return; // a delay started after disposal ends only by its cancellation
        }

        if (_count == 0)
        {
            _heap.Clear(); // only cancelled entries are left
            if (_armedFor != long.MaxValue || fired)
            {
                _armedFor = long.MaxValue;
                _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }

            return;
        }

        while (_heap.TryPeek(out var top, out _) && top.IsDone)
        {
            _heap.Dequeue();
        }

        _heap.TryPeek(out _, out long earliest);
        long target = Math.Max(earliest, _lastCompletion + _resolution);
        if (target >= _armedFor)
        {
            return; // armed for an earlier time already: that firing re-arms for this one
        }

        _armedFor = target;
        var due = target <= now ? TimeSpan.Zero : ToTimeSpan(target - now);
        if (_timer is null)
        {
            _timer = _time.CreateTimer(static s => ((DelayScheduler)s!).OnTimer(), this, due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            _timer.Change(due, Timeout.InfiniteTimeSpan);
        }
    }

    private void Release()
    {
        lock (_gate)
        {
            _count--;
            if (_count == 0)
            {
                ArmLocked(_time.GetTimestamp(), fired: false);
            }
        }
    }

    /// <summary>A pending delay: its task, and ways to end it early.</summary>
    internal readonly struct Delay
    {
        private readonly Entry? _entry;

        internal Delay(Entry entry) => _entry = entry;

        /// <summary>The entry, for a holder that interrupts the delay from elsewhere (<see cref="Entry.Interrupt"/>).</summary>
        internal Entry? Entry => _entry;

        /// <summary>
        /// <see langword="true"/> when the delay has passed, <see langword="false"/> when <see cref="Interrupt"/> ended it first;
        /// cancelled by the token or by <see cref="Cancel"/>.
        /// </summary>
        public Task<bool> Task => _entry!.Task;

        /// <summary>Releases the delay (its task is cancelled) unless it has completed already.</summary>
        public void Cancel() => _entry?.Cancel(CancellationToken.None);

        /// <summary>Releases the delay, completing its task with <see langword="false"/>, unless it has completed already.</summary>
        public void Interrupt() => _entry?.Interrupt();
    }

    internal sealed class Entry(DelayScheduler owner) : TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private int _done;

        public CancellationTokenRegistration Registration;

        public bool IsDone => Volatile.Read(ref _done) != 0;

        public bool TryClaim() => Interlocked.Exchange(ref _done, 1) == 0;

        public void Cancel(CancellationToken token)
        {
            if (TryClaim())
            {
                owner.Release();
                Registration.Dispose();
                TrySetCanceled(token);
            }
        }

        public void Interrupt()
        {
            if (TryClaim())
            {
                owner.Release();
                Registration.Dispose();
                TrySetResult(false);
            }
        }
    }
}
