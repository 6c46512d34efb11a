namespace MultiTenant.Scheduling;

/// <summary>
/// A hashed timing wheel on <see cref="TimeProvider"/>: many delays share one timer, armed only while delays are pending. Each delay
/// keeps its absolute deadline tick, so delays longer than one turn of the wheel stay in their bucket until their turn comes.
/// Resolution is one tick; a delay completes on the first tick at or after its deadline.
/// </summary>
internal sealed class TimerWheel : IDisposable
{
    private readonly TimeProvider _time;
    private readonly long _tickTicks;
    private readonly LinkedList<Entry>[] _buckets;
    private readonly long _origin;
    private readonly Lock _gate = new();
    private readonly ITimer _timer;
    private long _processedTick;
    private int _count;
    private bool _armed;

    public TimerWheel(TimeProvider time, TimeSpan tick, int buckets = 512)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(tick, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        _time = time;
        _tickTicks = tick.Ticks;
        _buckets = new LinkedList<Entry>[buckets];
        for (int i = 0; i < buckets; i++)
        {
            _buckets[i] = new LinkedList<Entry>();
        }

        _origin = time.GetTimestamp();
        _timer = time.CreateTimer(static s => ((TimerWheel)s!).OnTick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Delays pending.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>A task that completes after <paramref name="delay"/> (rounded up to the tick) or is cancelled by the token.</summary>
    public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }

        if (delay <= TimeSpan.Zero)
        {
            return Task.CompletedTask;
        }

        var entry = new Entry(this);
        lock (_gate)
        {
            long now = CurrentTick();
            entry.Deadline = Math.Max(now + ((delay.Ticks + _tickTicks - 1) / _tickTicks), _processedTick + 1);
            entry.Node = _buckets[(int)(entry.Deadline % _buckets.Length)].AddLast(entry);
            _count++;
            if (!_armed)
            {
                _armed = true;
                _timer.Change(TimeSpan.FromTicks(_tickTicks), TimeSpan.FromTicks(_tickTicks));
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            entry.Registration = cancellationToken.UnsafeRegister(static (s, ct) => ((Entry)s!).Cancel(ct), entry);
        }

        return entry.Completion.Task;
    }

    public void Dispose() => _timer.Dispose();

    private long CurrentTick() => _time.GetElapsedTime(_origin).Ticks / _tickTicks;

    private void OnTick()
    {
        List<Entry>? due = null;
        lock (_gate)
        {
            long now = CurrentTick();
            long from = _processedTick + 1;
            long steps = Math.Min(now - _processedTick, _buckets.Length);
            for (long t = from; t < from + steps; t++)
            {
                var bucket = _buckets[(int)(t % _buckets.Length)];
                for (var node = bucket.First; node is not null;)
                {
                    var next = node.Next;
                    if (node.Value.Deadline <= now)
                    {
                        bucket.Remove(node);
                        node.Value.Node = null;
                        _count--;
                        (due ??= []).Add(node.Value);
                    }

                    node = next;
                }
            }

            _processedTick = Math.Max(_processedTick, now);
            if (_count == 0 && _armed)
            {
                _armed = false;
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }

        if (due is not null)
        {
            foreach (var entry in due)
            {
                entry.Registration.Dispose();
                entry.Completion.TrySetResult();
            }
        }
    }

    private bool Remove(Entry entry)
    {
        lock (_gate)
        {
            if (entry.Node is null)
            {
                return false;
            }

            entry.Node.List!.Remove(entry.Node);
            entry.Node = null;
            _count--;
            return true;
        }
    }

    private sealed class Entry(TimerWheel owner)
    {
        public readonly TaskCompletionSource Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long Deadline;
        public LinkedListNode<Entry>? Node;
        public CancellationTokenRegistration Registration;

        public void Cancel(CancellationToken token)
        {
            if (owner.Remove(this))
            {
                Completion.TrySetCanceled(token);
            }
        }
    }
}
