using Npgsql;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The waits of the fleet's loops, on the time provider (tests drive it with a fake clock), and their recovery from a broken pool.</summary>
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

    /// <summary>
    /// After a coordination statement failed on a connection the server closed (a restart, a terminated backend, a dropped socket):
    /// clears the coordination pool, so the next attempt opens a fresh connection instead of finding the next idle connection the same
    /// event broke (Npgsql finds a broken idle connection only when it uses it). Without it, each of a pool's stale connections would
    /// fail one renewal in turn after a database restart, and a short outage could cost every lease. Other failures (timeouts, a slow
    /// or starved server) leave the pool alone.
    /// </summary>
    public static void ClearPoolIfConnectionBroken(NpgsqlDataSource coordination, Exception failure)
    {
        bool broken = failure switch
        {
            PostgresException postgres => postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                or PostgresErrorCodes.CannotConnectNow,
            NpgsqlException npgsql => npgsql.InnerException is IOException or System.Net.Sockets.SocketException,
            _ => false,
        };
        if (broken)
        {
            coordination.Clear();
        }
    }
}
