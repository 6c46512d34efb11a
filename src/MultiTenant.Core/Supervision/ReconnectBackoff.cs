namespace MultiTenant.Supervision;

/// <summary>
/// Exponential backoff with full jitter and an immediate first retry (see "Exponential Backoff And Jitter", AWS Architecture Blog).
/// </summary>
internal static class ReconnectBackoff
{
    /// <summary>
    /// The delay before the next attempt after <paramref name="failures"/> consecutive failures: zero for the first retry, then a
    /// uniformly random delay in [0, min(<paramref name="maxDelay"/>, <paramref name="baseDelay"/> · 2^(failures−1))].
    /// </summary>
    /// <param name="failures">Consecutive failures since the last stable connection (0 = this is the first retry).</param>
    /// <param name="baseDelay">The base delay.</param>
    /// <param name="maxDelay">The cap.</param>
    /// <param name="random">A uniformly distributed number in [0, 1).</param>
    public static TimeSpan GetDelay(int failures, TimeSpan baseDelay, TimeSpan maxDelay, double random)
    {
        if (failures <= 0)
        {
            return TimeSpan.Zero;
        }

        return TimeSpan.FromTicks((long)(GetCeiling(failures, baseDelay, maxDelay).Ticks * random));
    }

    /// <summary>The upper bound of the jittered delay after <paramref name="failures"/> failures.</summary>
    public static TimeSpan GetCeiling(int failures, TimeSpan baseDelay, TimeSpan maxDelay)
    {
        if (failures <= 0)
        {
            return TimeSpan.Zero;
        }

        // 2^(failures-1) overflows long ticks quickly; past 40 doublings any base exceeds any sane cap.
        int exponent = Math.Min(failures - 1, 40);
        double ticks = baseDelay.Ticks * Math.Pow(2, exponent);
        return ticks >= maxDelay.Ticks ? maxDelay : TimeSpan.FromTicks((long)ticks);
    }
}
