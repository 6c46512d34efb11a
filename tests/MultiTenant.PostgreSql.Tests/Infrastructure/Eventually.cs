namespace MultiTenant.PostgreSql.Tests.Infrastructure;

/// <summary>
/// Bounded polling of a real condition (a query returning the expected row, a health report turning healthy), for integration tests
/// against a real server where no signal exists to await. Never a fixed sleep: it returns as soon as the condition holds, and fails
/// with the description after the timeout (default 30 s).
/// </summary>
public static class Eventually
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> condition, string description, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        T last = default!;
        Exception? lastError = null;
        while (System.Diagnostics.Stopwatch.GetElapsedTime(start) < limit)
        {
            try
            {
                last = await probe();
                lastError = null;
                if (condition(last))
                {
                    return last;
                }
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
            {
                lastError = ex;
            }

            await Task.Delay(Interval);
        }

        throw new TimeoutException($"Timed out after {limit} waiting until {description}. Last value: {last}; last error: {lastError?.Message}");
    }

    public static Task UntilAsync(Func<Task<bool>> condition, string description, TimeSpan? timeout = null) =>
        UntilAsync(condition, static ok => ok, description, timeout);

    public static Task UntilAsync(Func<bool> condition, string description, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), static ok => ok, description, timeout);
}
