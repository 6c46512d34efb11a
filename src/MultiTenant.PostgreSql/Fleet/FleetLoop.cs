namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The waits of the fleet's loops, on the time provider (tests drive it with a fake clock).</summary>
internal static class FleetLoop
{
    /// <summary>Waits <paramref name="delay"/>; returns <see langword="false"/> when <paramref name="stop"/> was cancelled first.</summary>
    public static async Task<bool> DelayAsync(TimeSpan delay, TimeProvider time, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, time, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
