using Microsoft.Extensions.Time.Testing;
using MultiTenant.Scheduling;
using Xunit;

namespace MultiTenant.Core.Tests.Scheduling;

public sealed class TimerWheelTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Delays_complete_in_deadline_order_and_not_before()
    {
        using var wheel = new TimerWheel(_time, TimeSpan.FromMilliseconds(100), buckets: 8);
        var late = wheel.DelayAsync(TimeSpan.FromSeconds(2));
        var early = wheel.DelayAsync(TimeSpan.FromMilliseconds(300));
        _time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.False(early.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(early.IsCompletedSuccessfully);
        Assert.False(late.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1700));
        Assert.True(late.IsCompletedSuccessfully);
        Assert.Equal(0, wheel.Count);
    }

    [Fact]
    public void Delays_longer_than_the_wheel_wait_their_turn()
    {
        using var wheel = new TimerWheel(_time, TimeSpan.FromMilliseconds(100), buckets: 4);
        var delay = wheel.DelayAsync(TimeSpan.FromMilliseconds(1000)); // 10 ticks over a 4-bucket wheel
        for (int i = 0; i < 9; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(100));
            Assert.False(delay.IsCompleted);
        }

        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(delay.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Cancel_removes_the_delay_and_many_on_the_same_tick_all_complete()
    {
        using var wheel = new TimerWheel(_time, TimeSpan.FromMilliseconds(100));
        using var cts = new CancellationTokenSource();
        var cancelled = wheel.DelayAsync(TimeSpan.FromSeconds(1), cts.Token);
        var same = Enumerable.Range(0, 10_000).Select(_ => wheel.DelayAsync(TimeSpan.FromSeconds(1))).ToArray();
        Assert.Equal(10_001, wheel.Count);
        await cts.CancelAsync();
        Assert.True(cancelled.IsCanceled);
        Assert.Equal(10_000, wheel.Count);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.All(same, t => Assert.True(t.IsCompletedSuccessfully));
        Assert.Equal(0, wheel.Count);
    }
}
