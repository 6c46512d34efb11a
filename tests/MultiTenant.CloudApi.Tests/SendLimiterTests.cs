using Microsoft.Extensions.Time.Testing;
using MultiTenant.CloudApi.Client;

namespace MultiTenant.CloudApi.Tests;

/// <summary>The per-tenant rate limit and per-recipient spacing, on a fake clock.</summary>
public sealed class SendLimiterTests
{
    private static readonly TimeSpan Slot = TimeSpan.FromMilliseconds(12.5); // 1/80 s
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Sends_are_spaced_at_the_configured_rate()
    {
        var limiter = new SendLimiter(80, 1, TimeSpan.Zero, TimeSpan.FromSeconds(10), _time);

        Assert.Equal([TimeSpan.Zero, Slot, 2 * Slot, 3 * Slot], Enumerable.Range(0, 4).Select(i => limiter.ReserveRateSlot(out _)!.Value));
    }

    [Fact]
    public void Spacing_is_relative_to_the_clock_so_an_idle_tenant_sends_at_once()
    {
        var limiter = new SendLimiter(80, 1, TimeSpan.Zero, TimeSpan.FromSeconds(10), _time);
        limiter.ReserveRateSlot(out _);

        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(TimeSpan.Zero, limiter.ReserveRateSlot(out _));
        Assert.Equal(Slot, limiter.ReserveRateSlot(out _));
    }

    [Fact]
    public void Burst_lets_that_many_sends_go_back_to_back()
    {
        var limiter = new SendLimiter(80, 3, TimeSpan.Zero, TimeSpan.FromSeconds(10), _time);

        var waits = Enumerable.Range(0, 5).Select(i => limiter.ReserveRateSlot(out _)!.Value).ToArray();

        Assert.Equal([TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, Slot, 2 * Slot], waits);
    }

    [Fact]
    public void Send_that_would_wait_longer_than_the_maximum_is_refused_and_reserves_nothing()
    {
        var limiter = new SendLimiter(1, 1, TimeSpan.Zero, TimeSpan.FromSeconds(2), _time);
        limiter.ReserveRateSlot(out _);
        limiter.ReserveRateSlot(out _);
        limiter.ReserveRateSlot(out _); // waits 2 s: the maximum

        Assert.Null(limiter.ReserveRateSlot(out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(3), retryAfter);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(2), limiter.ReserveRateSlot(out _));
    }

    [Fact]
    public void Pause_holds_back_every_send_of_the_tenant()
    {
        var limiter = new SendLimiter(80, 1, TimeSpan.Zero, TimeSpan.FromSeconds(10), _time);

        limiter.PauseAll(TimeSpan.FromSeconds(5));

        Assert.Equal(TimeSpan.FromSeconds(5), limiter.ReserveRateSlot(out _));
    }

    [Fact]
    public void Held_recipient_waits_while_others_go_at_once()
    {
        var limiter = new SendLimiter(80, 1, TimeSpan.Zero, TimeSpan.FromSeconds(10), _time);

        limiter.HoldRecipient("15551111111", TimeSpan.FromSeconds(6));

        Assert.Equal(TimeSpan.FromSeconds(6), limiter.ReserveRecipient("15551111111", out _));
        Assert.Equal(TimeSpan.Zero, limiter.ReserveRecipient("15552222222", out _));
        _time.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(TimeSpan.Zero, limiter.ReserveRecipient("15551111111", out _));
        Assert.Equal(0, limiter.TrackedRecipients); // nothing is kept once the hold is over and spacing is off
    }

    [Fact]
    public void Recipient_spacing_spaces_sends_to_the_same_recipient_only()
    {
        var spacing = TimeSpan.FromSeconds(1);
        var limiter = new SendLimiter(80, 1, spacing, TimeSpan.FromSeconds(10), _time);

        Assert.Equal(TimeSpan.Zero, limiter.ReserveRecipient("15551111111", out _));
        Assert.Equal(spacing, limiter.ReserveRecipient("15551111111", out _));
        Assert.Equal(2 * spacing, limiter.ReserveRecipient("15551111111", out _));
        Assert.Equal(TimeSpan.Zero, limiter.ReserveRecipient("15552222222", out _));
    }

    [Fact]
    public void Recipient_held_longer_than_the_maximum_wait_is_refused_with_the_time_left()
    {
        var limiter = new SendLimiter(80, 1, TimeSpan.Zero, TimeSpan.FromSeconds(10), _time);
        limiter.HoldRecipient("15551111111", TimeSpan.FromSeconds(30));
        _time.Advance(TimeSpan.FromSeconds(5));

        Assert.Null(limiter.ReserveRecipient("15551111111", out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(25), retryAfter);
    }

    [Fact]
    public void Expired_recipients_are_forgotten_when_the_map_grows()
    {
        var limiter = new SendLimiter(80, 1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), _time);
        for (int i = 0; i < 1000; i++)
        {
            limiter.ReserveRecipient("1555" + i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture), out _);
        }

        _time.Advance(TimeSpan.FromSeconds(2));
        for (int i = 1000; i < 1100; i++)
        {
            limiter.ReserveRecipient("1555" + i.ToString("D7", System.Globalization.CultureInfo.InvariantCulture), out _);
        }

        Assert.True(limiter.TrackedRecipients < 1100, $"{limiter.TrackedRecipients} recipients tracked");
    }
}
