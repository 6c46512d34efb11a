using Microsoft.Extensions.Logging;

namespace MultiTenant.PostgreSql.Fleet;

/// <summary>The event ids of the fleet's log messages (2100–2199), for filtering and alerting.</summary>
public static class FleetEventIds
{
    /// <summary>The host joined the fleet.</summary>
    public const int Joined = 2100;

    /// <summary>The fleet's coordination traffic shares the store's connection pool (no dedicated coordination data source).</summary>
    public const int CoordinationPoolShared = 2120;

    /// <summary>The host waits for a previous incarnation with the same host id to be counted dead before it joins.</summary>
    public const int HostIdBusy = 2101;

    /// <summary>The host left the fleet (graceful shutdown) and released its leases.</summary>
    public const int Left = 2102;

    /// <summary>Another instance took this host id over; this instance stops all of its tenants.</summary>
    public const int Superseded = 2103;

    /// <summary>Leases were acquired.</summary>
    public const int LeasesAcquired = 2110;

    /// <summary>Leases were released (tenants stopped or handed over to another host).</summary>
    public const int LeasesReleased = 2111;

    /// <summary>A lease was lost (expired, taken over, or its renewal deadline passed) and the tenant was stopped on this host.</summary>
    public const int LeaseLost = 2112;

    /// <summary>A renewal of the leases failed.</summary>
    public const int RenewFailed = 2113;

    /// <summary>A fleet statement other than a renewal failed (heartbeat, reconcile, relay, release on shutdown).</summary>
    public const int CoordinationFailed = 2114;

    /// <summary>A write of a tenant's state was refused because its lease epoch is stale.</summary>
    public const int WriteRefused = 2115;

    /// <summary>A send relayed to the tenant's owner host got no answer within <see cref="FleetOptions.RelayTimeout"/>.</summary>
    public const int RelayTimedOut = 2116;

    /// <summary>A send relayed to this host failed unexpectedly (neither a refused send nor a disconnected tenant).</summary>
    public const int RelayFailed = 2117;
}

internal static partial class FleetLog
{
    [LoggerMessage(EventId = FleetEventIds.Joined, Level = LogLevel.Information, Message = "Host {HostId} joined the fleet (instance {InstanceId}).")]
    public static partial void Joined(ILogger logger, string hostId, Guid instanceId);

    [LoggerMessage(EventId = FleetEventIds.CoordinationPoolShared, Level = LogLevel.Warning,
        Message = "The fleet's coordination traffic shares the store's connection pool (the host registered the NpgsqlDataSource): API load that fills the pool can delay lease renewals. Register a keyed NpgsqlDataSource '{Key}' with a pool of its own.")]
    public static partial void CoordinationPoolShared(ILogger logger, string key);

    [LoggerMessage(EventId = FleetEventIds.HostIdBusy, Level = LogLevel.Warning,
        Message = "Host id {HostId} is used by a live host; waiting until it stops heartbeating before joining.")]
    public static partial void HostIdBusy(ILogger logger, string hostId);

    [LoggerMessage(EventId = FleetEventIds.Left, Level = LogLevel.Information, Message = "Host {HostId} left the fleet and released {Count} leases.")]
    public static partial void Left(ILogger logger, string hostId, int count);

    [LoggerMessage(EventId = FleetEventIds.Superseded, Level = LogLevel.Error,
        Message = "Another instance took host id {HostId} over; stopping every tenant of this instance.")]
    public static partial void Superseded(ILogger logger, string hostId);

    [LoggerMessage(EventId = FleetEventIds.LeasesAcquired, Level = LogLevel.Information, Message = "Acquired {Count} leases.")]
    public static partial void LeasesAcquired(ILogger logger, int count);

    [LoggerMessage(EventId = FleetEventIds.LeasesReleased, Level = LogLevel.Information, Message = "Released {Count} leases ({Reason}).")]
    public static partial void LeasesReleased(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = FleetEventIds.LeaseLost, Level = LogLevel.Warning, Message = "Lost the lease of tenant {BusinessId} ({Reason}); stopping it here.")]
    public static partial void LeaseLost(ILogger logger, string businessId, string reason);

    [LoggerMessage(EventId = FleetEventIds.RenewFailed, Level = LogLevel.Warning, Message = "Renewing {Count} leases failed; retrying.")]
    public static partial void RenewFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = FleetEventIds.RenewFailed, Level = LogLevel.Warning,
        Message = "Renewing {Count} leases did not start within {Deadline} (the lease lock or a coordination connection was busy); retrying.")]
    public static partial void RenewTimedOut(ILogger logger, int count, TimeSpan deadline);

    [LoggerMessage(EventId = FleetEventIds.CoordinationFailed, Level = LogLevel.Warning, Message = "Fleet {Operation} failed; retrying.")]
    public static partial void CoordinationFailed(ILogger logger, string operation, Exception exception);

    [LoggerMessage(EventId = FleetEventIds.WriteRefused, Level = LogLevel.Warning,
        Message = "A state write of tenant {BusinessId} was refused: epoch {Epoch} is no longer this host's lease.")]
    public static partial void WriteRefused(ILogger logger, string businessId, long epoch);

    [LoggerMessage(EventId = FleetEventIds.RelayTimedOut, Level = LogLevel.Warning,
        Message = "A send to tenant {BusinessId} relayed to instance {InstanceId} got no answer within {Timeout}.")]
    public static partial void RelayTimedOut(ILogger logger, string businessId, Guid instanceId, TimeSpan timeout);

    [LoggerMessage(EventId = FleetEventIds.RelayFailed, Level = LogLevel.Error, Message = "A send to tenant {BusinessId} relayed to this host failed.")]
    public static partial void RelayFailed(ILogger logger, string businessId, Exception exception);
}
