using MultiTenant.Scheduling;
using MultiTenant.Tests.Infrastructure;
using Xunit;

namespace MultiTenant.Core.Tests.Scheduling;

public sealed class DelaySchedulerTests
{
    private readonly TestTimeProvider _time = new();

    [Fact]
    public void Delays_complete_in_deadline_order_exactly_when_due_and_not_before()
    {
        using var scheduler = new DelayScheduler(_time, TimeSpan.Zero);
        var late = scheduler.DelayAsync(TimeSpan.FromSeconds(2));
        var early = scheduler.DelayAsync(TimeSpan.FromMilliseconds(300));
        _time.Advance(TimeSpan.FromMilliseconds(300) - TimeSpan.FromTicks(1));
        Assert.False(early.IsCompleted);
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(early.IsCompletedSuccessfully);
        Assert.False(late.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1700) - TimeSpan.FromTicks(1));
        Assert.False(late.IsCompleted);
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(late.IsCompletedSuccessfully);
        Assert.Equal(0, scheduler.Count);
    }

    [Fact]
    public void One_timer_is_armed_for_the_earliest_deadline_and_disarmed_when_nothing_is_pending()
    {
        using var scheduler = new DelayScheduler(_time, TimeSpan.Zero);
        Assert.Empty(_time.Timers); // created on first use
        _ = scheduler.DelayAsync(TimeSpan.FromSeconds(10));
        var timer = Assert.Single(_time.ActiveTimers);
        Assert.Equal(TimeSpan.FromSeconds(10), timer.DueTime);
        _ = scheduler.DelayAsync(TimeSpan.FromSeconds(3)); // earlier: re-armed
        Assert.Equal(TimeSpan.FromSeconds(3), Assert.Single(_time.ActiveTimers).DueTime);
        _ = scheduler.DelayAsync(TimeSpan.FromSeconds(20)); // later: left alone
        Assert.Equal(TimeSpan.FromSeconds(3), Assert.Single(_time.ActiveTimers).DueTime);

        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(7), Assert.Single(_time.ActiveTimers).DueTime);
        _time.Advance(TimeSpan.FromSeconds(17));
        Assert.Equal(0, scheduler.Count);
        Assert.Empty(_time.ActiveTimers);
        Assert.Single(_time.Timers);
    }

    [Fact]
    public void Deadlines_closer_than_the_resolution_complete_together_and_never_early()
    {
        using var scheduler = new DelayScheduler(_time, TimeSpan.FromMilliseconds(10));
        var first = scheduler.DelayAsync(TimeSpan.FromMilliseconds(100));
        var second = scheduler.DelayAsync(TimeSpan.FromMilliseconds(103));
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(first.IsCompletedSuccessfully);
        Assert.False(second.IsCompleted); // the timer waits a resolution after a firing
        Assert.Equal(TimeSpan.FromMilliseconds(10), Assert.Single(_time.ActiveTimers).DueTime);
        _time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.False(second.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(second.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Cancel_by_token_or_by_the_caller_releases_the_delay_and_many_on_the_same_deadline_all_complete()
    {
        using var scheduler = new DelayScheduler(_time, TimeSpan.FromMilliseconds(10));
        using var cts = new CancellationTokenSource();
        var cancelled = scheduler.DelayAsync(TimeSpan.FromSeconds(1), cts.Token);
        var released = scheduler.Start(TimeSpan.FromSeconds(1));
        var same = Enumerable.Range(0, 10_000).Select(_ => scheduler.DelayAsync(TimeSpan.FromSeconds(1))).ToArray();
        Assert.Equal(10_002, scheduler.Count);

        await cts.CancelAsync();
        released.Cancel();
        released.Cancel(); // idempotent

        Assert.True(cancelled.IsCanceled);
        Assert.True(released.Task.IsCanceled);
        Assert.Equal(10_000, scheduler.Count);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.All(same, t => Assert.True(t.IsCompletedSuccessfully));
        Assert.Equal(0, scheduler.Count);
        Assert.Empty(_time.ActiveTimers);
    }

    [Fact]
    public void Cancelling_the_only_delay_disarms_the_timer_and_zero_or_cancelled_requests_arm_nothing()
    {
        using var scheduler = new DelayScheduler(_time, TimeSpan.Zero);
        var delay = scheduler.Start(TimeSpan.FromSeconds(10));
        Assert.Single(_time.ActiveTimers);
        delay.Cancel();
        Assert.Empty(_time.ActiveTimers);

        Assert.True(scheduler.DelayAsync(TimeSpan.Zero).IsCompletedSuccessfully);
        Assert.True(scheduler.DelayAsync(TimeSpan.FromSeconds(1), new CancellationToken(canceled: true)).IsCanceled);
        Assert.Equal(0, scheduler.Count);
        Assert.Empty(_time.ActiveTimers);
    }

    [Fact]
    public async Task Interrupt_completes_the_delay_with_false_releases_it_and_a_late_interrupt_changes_nothing()
    {
        using var scheduler = new DelayScheduler(_time, TimeSpan.Zero);
        var interrupted = scheduler.Start(TimeSpan.FromSeconds(10));
        var due = scheduler.Start(TimeSpan.FromSeconds(1));
        interrupted.Interrupt();
        Assert.False(await interrupted.Task);
        Assert.Equal(1, scheduler.Count);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await due.Task);
        due.Interrupt(); // already due
        due.Cancel();
        Assert.True(due.Task.IsCompletedSuccessfully);
        Assert.Equal(0, scheduler.Count);
        Assert.Empty(_time.ActiveTimers);
    }

    [Fact]
    public async Task Concurrent_starts_and_cancels_from_many_threads_leave_the_count_exact()
    {
        using var scheduler = new DelayScheduler(_time, TimeSpan.FromMilliseconds(10));
        var kept = new Task[8][];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            var mine = new List<Task>();
            for (int i = 0; i < 5_000; i++)
            {
                var delay = scheduler.Start(TimeSpan.FromMilliseconds(1 + (i % 500)));
                if (i % 2 == 0)
                {
                    delay.Cancel();
                }
                else
                {
                    mine.Add(delay.Task);
                }
            }

            kept[w] = [.. mine];
        }))).WithTimeout();

        Assert.Equal(8 * 2_500, scheduler.Count);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.All(kept.SelectMany(k => k), t => Assert.True(t.IsCompletedSuccessfully));
        Assert.Equal(0, scheduler.Count);
        Assert.Empty(_time.ActiveTimers);
    }
}
