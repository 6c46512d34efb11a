using MultiTenant.Supervision;

namespace MultiTenant.Tests.Supervision;

public sealed class ReconnectBackoffTests
{
    private static readonly TimeSpan Base = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.9999999)]
    public void The_first_retry_is_immediate_whatever_the_jitter(double random)
    {
        Assert.Equal(TimeSpan.Zero, ReconnectBackoff.GetDelay(0, Base, Cap, random));
        Assert.Equal(TimeSpan.Zero, ReconnectBackoff.GetDelay(-1, Base, Cap, random));
        Assert.Equal(TimeSpan.Zero, ReconnectBackoff.GetCeiling(0, Base, Cap));
    }

    [Fact]
    public void Ceilings_double_from_the_base_until_the_cap_of_five_minutes()
    {
        var ceilings = Enumerable.Range(1, 12).Select(n => ReconnectBackoff.GetCeiling(n, Base, Cap).TotalSeconds).ToArray();

        Assert.Equal(new double[] { 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300 }, ceilings);
    }

    [Theory]
    [InlineData(41)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(1_000)]
    [InlineData(int.MaxValue)]
    public void Huge_failure_counts_stay_at_the_cap_without_overflow(int failures)
    {
        Assert.Equal(Cap, ReconnectBackoff.GetCeiling(failures, Base, Cap));
        Assert.InRange(ReconnectBackoff.GetDelay(failures, Base, Cap, 0.9999999), TimeSpan.Zero, Cap);
        Assert.Equal(TimeSpan.FromTicks(Cap.Ticks / 2), ReconnectBackoff.GetDelay(failures, Base, Cap, 0.5));
    }

    [Fact]
    public void Full_jitter_scales_the_ceiling_by_the_random_number()
    {
        Assert.Equal(TimeSpan.Zero, ReconnectBackoff.GetDelay(3, Base, Cap, 0.0));
        Assert.Equal(TimeSpan.FromSeconds(1), ReconnectBackoff.GetDelay(3, Base, Cap, 0.25));
        Assert.Equal(TimeSpan.FromSeconds(2), ReconnectBackoff.GetDelay(3, Base, Cap, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(150), ReconnectBackoff.GetDelay(20, Base, Cap, 0.5));
    }

    [Theory]
    [InlineData(1_000, 300_000)]
    [InlineData(10, 10)]
    [InlineData(10, 60_000)]
    [InlineData(60_000, 3_600_000)]
    [InlineData(250, 1_000)]
    public void Delays_stay_within_zero_and_the_ceiling_for_any_random_number(int baseMs, int capMs)
    {
        var baseDelay = TimeSpan.FromMilliseconds(baseMs);
        var cap = TimeSpan.FromMilliseconds(capMs);
        var random = new Random(20240607 + baseMs + capMs);
        double[] edges = [0.0, double.Epsilon, 1e-12, 0.5, 1 - 1e-12, Math.BitDecrement(1.0)];

        for (int failures = 1; failures <= 70; failures++)
        {
            var ceiling = ReconnectBackoff.GetCeiling(failures, baseDelay, cap);
            var expectedCeiling = TimeSpan.FromTicks((long)Math.Min(cap.Ticks, baseDelay.Ticks * Math.Pow(2, Math.Min(failures - 1, 40))));
            Assert.Equal(expectedCeiling, ceiling);
            Assert.True(ceiling <= cap);
            Assert.True(ceiling >= (failures == 1 ? TimeSpan.FromTicks(Math.Min(baseDelay.Ticks, cap.Ticks)) : ReconnectBackoff.GetCeiling(failures - 1, baseDelay, cap)));

            var previous = TimeSpan.Zero;
            foreach (double r in edges)
            {
                var delay = ReconnectBackoff.GetDelay(failures, baseDelay, cap, r);
                Assert.InRange(delay, TimeSpan.Zero, ceiling);
                Assert.True(delay >= previous, "the delay grows with the random number");
                previous = delay;
            }

            for (int i = 0; i < 2_000; i++)
            {
                double r = random.NextDouble();
                var delay = ReconnectBackoff.GetDelay(failures, baseDelay, cap, r);
                Assert.InRange(delay, TimeSpan.Zero, ceiling);
                Assert.InRange(delay.Ticks, (long)(ceiling.Ticks * r) - 1, (long)(ceiling.Ticks * r));
            }
        }
    }

    [Fact]
    public void Jittered_delays_spread_over_the_whole_range()
    {
        var random = new Random(42);
        var ceiling = ReconnectBackoff.GetCeiling(4, Base, Cap);
        var buckets = new int[10];
        for (int i = 0; i < 10_000; i++)
        {
            var delay = ReconnectBackoff.GetDelay(4, Base, Cap, random.NextDouble());
            buckets[Math.Min(9, (int)(delay.Ticks * 10 / ceiling.Ticks))]++;
        }

        Assert.All(buckets, count => Assert.InRange(count, 850, 1_150));
    }
}
