using Microsoft.Extensions.Time.Testing;

namespace MultiTenant.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that shows which timers are pending, so a test advances time only once the code under test is
/// really waiting on a timer (the supervisor runs on the thread pool): <c>await time.WaitForTimerAsync(delay)</c>, then <c>Advance</c>.
/// </summary>
internal sealed class TestTimeProvider : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private Action? _beforeNextGetUtcNow;
    private readonly List<TrackedTimer> _timers = [];
    private readonly List<(Func<TrackedTimer, bool> Match, TaskCompletionSource<TrackedTimer> Signal)> _waiters = [];

    /// <summary>Every timer created so far, in creation order.</summary>
    public IReadOnlyList<TrackedTimer> Timers
    {
        get
        {
            lock (_gate)
            {
                return [.. _timers];
            }
        }
    }

    /// <summary>Timers that may still fire (not disposed, and periodic or not fired yet).</summary>
    public IReadOnlyList<TrackedTimer> ActiveTimers
    {
        get
        {
            lock (_gate)
            {
                return _timers.Where(static t => t.IsActive).ToList();
            }
        }
    }

    /// <summary>
    /// When set, the next <see cref="GetUtcNow"/> call (from any thread) runs it first and clears it: a test uses it to hold a thread at a
    /// precise point of the code under test.
    /// </summary>
    public Action? BeforeNextGetUtcNow
    {
        get => Volatile.Read(ref _beforeNextGetUtcNow);
        set => Volatile.Write(ref _beforeNextGetUtcNow, value);
    }

    public override DateTimeOffset GetUtcNow()
    {
        Interlocked.Exchange(ref _beforeNextGetUtcNow, null)?.Invoke();
        return base.GetUtcNow();
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var tracked = new TrackedTimer(this, dueTime, period) { Callback = callback, State = state };
        tracked.Inner = base.CreateTimer(static s => ((TrackedTimer)s!).Fire(), tracked, dueTime, period);
        lock (_gate)
        {
            _timers.Add(tracked);
        }

        OnChanged();
        return tracked;
    }

    /// <summary>Waits until an active timer created with exactly <paramref name="dueTime"/> exists, and returns it.</summary>
    public Task<TrackedTimer> WaitForTimerAsync(TimeSpan dueTime) => WaitForTimerAsync(t => t.DueTime == dueTime);

    /// <summary>Waits until an active timer matching <paramref name="match"/> exists, and returns it.</summary>
    public Task<TrackedTimer> WaitForTimerAsync(Func<TrackedTimer, bool> match)
    {
        lock (_gate)
        {
            foreach (var timer in _timers)
            {
                if (timer.IsActive && match(timer))
                {
                    return Task.FromResult(timer);
                }
            }

            var signal = new TaskCompletionSource<TrackedTimer>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((match, signal));
            return signal.Task.WithTimeout();
        }
    }

    private void OnChanged()
    {
        lock (_gate)
        {
            for (int i = _waiters.Count - 1; i >= 0; i--)
            {
                var (match, signal) = _waiters[i];
                foreach (var timer in _timers)
                {
                    if (timer.IsActive && match(timer))
                    {
                        signal.TrySetResult(timer);
                        _waiters.RemoveAt(i);
                        break;
                    }
                }
            }
        }
    }

    /// <summary>A timer as the code under test created it.</summary>
    internal sealed class TrackedTimer(TestTimeProvider owner, TimeSpan dueTime, TimeSpan period) : ITimer
    {
        private int _fired;
        private int _disposed;

        public TimeSpan DueTime { get; private set; } = dueTime;

        public TimeSpan Period { get; private set; } = period;

        /// <summary>The fake time at which the timer was created or last changed.</summary>
        public DateTimeOffset CreatedAt { get; private set; } = owner.GetUtcNow();

        public bool HasFired => Volatile.Read(ref _fired) != 0;

        public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

        public bool IsActive => !IsDisposed && DueTime != Timeout.InfiniteTimeSpan && (!HasFired || Period != Timeout.InfiniteTimeSpan);

        internal ITimer Inner { get; set; } = null!;

        internal TimerCallback Callback { get; set; } = null!;

        internal object? State { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            DueTime = dueTime;
            Period = period;
            CreatedAt = owner.GetUtcNow();
            Volatile.Write(ref _fired, 0);
            bool changed = Inner.Change(dueTime, period);
            owner.OnChanged();
            return changed;
        }

        public void Dispose()
        {
            Volatile.Write(ref _disposed, 1);
            Inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }

        internal void Fire()
        {
            Volatile.Write(ref _fired, 1);
            Callback(State);
        }
    }
}
