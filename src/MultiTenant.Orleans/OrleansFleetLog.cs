using Microsoft.Extensions.Logging;

namespace MultiTenant.Orleans;

/// <summary>The event ids of the Orleans fleet's log messages (2200–2299), for filtering and alerting.</summary>
public static class OrleansFleetEventIds
{
    /// <summary>A tenant grain acquired the tenant's lease and runs it on this silo.</summary>
    public const int Activated = 2200;

    /// <summary>A tenant grain could not get the tenant's lease and stays passive (it tries again).</summary>
    public const int Passive = 2201;

    /// <summary>The keeper nudged the desired tenants that no live host runs.</summary>
    public const int KeeperNudged = 2202;

    /// <summary>The keeper could not read the tenants to run or reach their grains; it tries again.</summary>
    public const int KeeperFailed = 2203;
}

internal static partial class OrleansFleetLog
{
    [LoggerMessage(EventId = OrleansFleetEventIds.Activated, Level = LogLevel.Debug, Message = "Tenant {BusinessId} runs on this silo under lease epoch {Epoch}.")]
    public static partial void Activated(ILogger logger, string businessId, long epoch);

    [LoggerMessage(EventId = OrleansFleetEventIds.Passive, Level = LogLevel.Debug, Message = "Tenant {BusinessId}: its lease is held elsewhere or it is not desired-running; the grain stays passive.")]
    public static partial void Passive(ILogger logger, string businessId);

    [LoggerMessage(EventId = OrleansFleetEventIds.KeeperNudged, Level = LogLevel.Information, Message = "Nudged {Count} desired tenants that no live host ran ({Trigger}).")]
    public static partial void KeeperNudged(ILogger logger, int count, string trigger);

    [LoggerMessage(EventId = OrleansFleetEventIds.KeeperFailed, Level = LogLevel.Warning, Message = "The tenant keeper failed; it tries again.")]
    public static partial void KeeperFailed(ILogger logger, Exception exception);
}
