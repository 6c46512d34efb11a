using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that reports every timer created with its due time, so a test can wait until the code under test
/// is really waiting (for example on a backoff delay) before it advances the clock, instead of guessing with sleeps.
/// </summary>
public sealed class SignallingTimeProvider : FakeTimeProvider
{
    private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

    public SignallingTimeProvider()
        : base(new DateTimeOffset(2025, 6, 1, 12, 0, 0, TimeSpan.Zero))
    {
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        _timers.Writer.TryWrite(dueTime);
        return timer;
    }

    /// <summary>Waits for a timer whose due time satisfies <paramref name="match"/> and returns its due time.</summary>
    public async Task<TimeSpan> WaitForTimerAsync(Func<TimeSpan, bool> match)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var due = await _timers.Reader.ReadAsync(timeout.Token);
            if (match(due))
            {
                return due;
            }
        }
    }
}
