namespace MultiTenant.CloudApi.Client;

/// <summary>
/// One tenant's outbound pacing: a rate limit of N messages per second with a small burst, pauses after Graph throttling errors,
/// and per-recipient spacing and holds (error 131056 holds back only that recipient). All on <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// <para>The rate limit is the generic cell rate algorithm (a token bucket expressed as a "theoretical arrival time"): every send
/// reserves the next slot, 1/rate after the previous one, and waits until it; up to <c>burst</c> sends may go back to back. Slots are
/// reserved in call order, so concurrent sends are served first come, first served and none is lost; a send that would wait longer
/// than the maximum reserves nothing and is refused with the time to retry.</para>
/// <para>System.Threading.RateLimiting's limiters would do the counting but run on the wall clock (they take no TimeProvider), so
/// this small limiter keeps every delay testable. Arithmetic happens under a lock; no waiting or I/O does.</para>
/// </remarks>
internal sealed class SendLimiter
{
    private const int RecipientSweepThreshold = 1024;

    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly long _origin;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _burstTolerance;
    private readonly TimeSpan _recipientSpacing;
    private readonly TimeSpan _maxWait;
    private readonly Dictionary<string, TimeSpan> _recipientNext = new(StringComparer.Ordinal);
    private int _sweepAt = RecipientSweepThreshold;

    // The theoretical arrival time of the next send, as an offset from _origin.
    private TimeSpan _tat;

    public SendLimiter(int messagesPerSecond, int burst, TimeSpan recipientSpacing, TimeSpan maxWait, TimeProvider time)
    {
        _time = time;
        _origin = time.GetTimestamp();
        _interval = TimeSpan.FromTicks(TimeSpan.TicksPerSecond / messagesPerSecond);
        _burstTolerance = _interval * (burst - 1);
        _recipientSpacing = recipientSpacing;
        _maxWait = maxWait;
    }

    /// <summary>Recipients with a pending spacing or hold (for tests and diagnostics).</summary>
    public int TrackedRecipients
    {
        get
        {
            lock (_gate)
            {
                return _recipientNext.Count;
            }
        }
    }

    /// <summary>
    /// Reserves a send to <paramref name="recipient"/>: first the recipient's turn, then a slot of the tenant's rate.
    /// Returns how long the caller must wait before sending, or <see langword="null"/> with <paramref name="retryAfter"/> when the wait
    /// would exceed the maximum (nothing is reserved then).
    /// </summary>
    /// <remarks>The two waits are taken one after the other (the caller awaits the first, then calls <see cref="ReserveRateSlot"/>),
    /// so a recipient that must wait does not hold a tenant slot that other recipients could use meanwhile.</remarks>
    public TimeSpan? ReserveRecipient(string recipient, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        lock (_gate)
        {
            var now = Now();
            if (!_recipientNext.TryGetValue(recipient, out var next) || next <= now)
            {
                if (_recipientSpacing > TimeSpan.Zero)
                {
                    _recipientNext[recipient] = now + _recipientSpacing;
                    SweepIfLarge(now);
                }
                else if (next != default)
                {
                    _recipientNext.Remove(recipient);
                }

                return TimeSpan.Zero;
            }

            var wait = next - now;
            if (wait > _maxWait)
            {
                retryAfter = wait;
                return null;
            }

            _recipientNext[recipient] = next + _recipientSpacing;
            return wait;
        }
    }

    /// <summary>
    /// Reserves the tenant's next rate slot. Returns how long to wait for it, or <see langword="null"/> with
    /// <paramref name="retryAfter"/> when that would exceed the maximum.
    /// </summary>
    public TimeSpan? ReserveRateSlot(out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        lock (_gate)
        {
            var now = Now();
            var tat = _tat > now ? _tat : now;
            var allowedAt = tat - _burstTolerance;
            var wait = allowedAt > now ? allowedAt - now : TimeSpan.Zero;
            if (wait > _maxWait)
            {
                retryAfter = wait;
                return null;
            }

            _tat = tat + _interval;
            return wait;
        }
    }

    /// <summary>Holds back every send of the tenant for <paramref name="pause"/> (after a throttling error).</summary>
    public void PauseAll(TimeSpan pause)
    {
        lock (_gate)
        {
            var until = Now() + pause + _burstTolerance;
            if (until > _tat)
            {
                _tat = until;
            }
        }
    }

    /// <summary>Holds back sends to <paramref name="recipient"/> for <paramref name="hold"/> (after error 131056).</summary>
    public void HoldRecipient(string recipient, TimeSpan hold)
    {
        lock (_gate)
        {
            var until = Now() + hold;
            if (!_recipientNext.TryGetValue(recipient, out var next) || next < until)
            {
                _recipientNext[recipient] = until;
                SweepIfLarge(Now());
            }
        }
    }

    private TimeSpan Now() => _time.GetElapsedTime(_origin);

    /// <summary>Drops recipients whose turn has passed, when the map doubled since the last sweep (amortised O(1) per send).</summary>
    private void SweepIfLarge(TimeSpan now)
    {
        if (_recipientNext.Count < _sweepAt)
        {
            return;
        }

        List<string>? expired = null;
        foreach (var (recipient, next) in _recipientNext)
        {
            if (next <= now)
            {
                (expired ??= []).Add(recipient);
            }
        }

        if (expired is not null)
        {
            foreach (var recipient in expired)
            {
                _recipientNext.Remove(recipient);
            }
        }

        _sweepAt = Math.Max(RecipientSweepThreshold, _recipientNext.Count * 2);
    }
}
