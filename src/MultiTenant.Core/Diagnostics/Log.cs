using Microsoft.Extensions.Logging;

namespace MultiTenant.Diagnostics;

/// <summary>The event ids of MultiTenant's log messages, for filtering and alerting.</summary>
public static class MultiTenantEventIds
{
    /// <summary>A tenant was started.</summary>
    public const int TenantStarted = 1000;

    /// <summary>A tenant was stopped.</summary>
    public const int TenantStopped = 1001;

    /// <summary>A tenant connected.</summary>
    public const int TenantConnected = 1002;

    /// <summary>A tenant's connection was lost.</summary>
    public const int TenantDisconnected = 1003;

    /// <summary>A connect attempt failed (transient).</summary>
    public const int ConnectFailed = 1004;

    /// <summary>A tenant hit a fatal condition and went to the error state.</summary>
    public const int TenantFaulted = 1005;

    /// <summary>A tenant's run failed with an exception nobody foresaw (a bug) and went to the error state; the line holds the exception.</summary>
    public const int TenantFailedUnexpectedly = 1008;

    /// <summary>The health check found a connection that dropped silently.</summary>
    public const int SilentDropDetected = 1006;

    /// <summary>A reconnect is scheduled after a backoff delay.</summary>
    public const int ReconnectScheduled = 1007;

    /// <summary>An event handler threw.</summary>
    public const int HandlerFailed = 1100;

    /// <summary>An event was dropped by a lossy queue policy.</summary>
    public const int EventDropped = 1101;

    /// <summary>A client failed to disconnect or dispose cleanly.</summary>
    public const int ClientCleanupFailed = 1102;

    /// <summary>The coordinator started.</summary>
    public const int CoordinatorStarted = 1200;

    /// <summary>The coordinator is shutting down.</summary>
    public const int CoordinatorStopping = 1201;

    /// <summary>The coordinator finished shutting down.</summary>
    public const int CoordinatorStopped = 1202;

    /// <summary>Tenants recorded as running were resumed at start.</summary>
    public const int TenantsResumed = 1203;

    /// <summary>A write of statuses to the store failed and will be retried.</summary>
    public const int StatusWriteFailed = 1300;

    /// <summary>Shutdown did not finish within the host's timeout.</summary>
    public const int ShutdownTimedOut = 1204;

    /// <summary>A start was refused: <see cref="Hosting.TenantCoordinatorOptions.MaxTenants"/> tenants are running.</summary>
    public const int TenantLimitReached = 1210;
}

/// <summary>All log messages of MultiTenant.Core.</summary>
internal static partial class Log
{
    [LoggerMessage(MultiTenantEventIds.TenantLimitReached, LogLevel.Warning, "Tenant {BusinessId} not started: the maximum of {MaxTenants} running tenants is reached")]
    public static partial void TenantLimitReached(ILogger logger, string businessId, int maxTenants);

    [LoggerMessage(MultiTenantEventIds.TenantStarted, LogLevel.Information, "Tenant {BusinessId} started")]
    public static partial void TenantStarted(ILogger logger, string businessId);

    [LoggerMessage(MultiTenantEventIds.TenantStopped, LogLevel.Information, "Tenant {BusinessId} stopped")]
    public static partial void TenantStopped(ILogger logger, string businessId);

    [LoggerMessage(MultiTenantEventIds.TenantConnected, LogLevel.Information, "Tenant {BusinessId} connected")]
    public static partial void TenantConnected(ILogger logger, string businessId);

    [LoggerMessage(MultiTenantEventIds.TenantDisconnected, LogLevel.Warning, "Tenant {BusinessId} disconnected: {Reason}")]
    public static partial void TenantDisconnected(ILogger logger, string businessId, string reason);

    [LoggerMessage(MultiTenantEventIds.ConnectFailed, LogLevel.Warning, "Tenant {BusinessId} failed to connect (attempt {Attempt}, error id {ErrorId})")]
    public static partial void ConnectFailed(ILogger logger, string businessId, int attempt, string errorId, Exception exception);

    [LoggerMessage(MultiTenantEventIds.TenantFailedUnexpectedly, LogLevel.Error, "Tenant {BusinessId} failed unexpectedly and went to the error state (error id {ErrorId})")]
    public static partial void TenantFailedUnexpectedly(ILogger logger, string businessId, string errorId, Exception exception);

    [LoggerMessage(MultiTenantEventIds.TenantFaulted, LogLevel.Error, "Tenant {BusinessId} stopped with a fatal error ({Reason}): {Error}")]
    public static partial void TenantFaulted(ILogger logger, string businessId, string reason, string error, Exception exception);

    [LoggerMessage(MultiTenantEventIds.SilentDropDetected, LogLevel.Warning, "Tenant {BusinessId}: the health check found the connection gone")]
    public static partial void SilentDropDetected(ILogger logger, string businessId);

    [LoggerMessage(MultiTenantEventIds.ReconnectScheduled, LogLevel.Debug, "Tenant {BusinessId} reconnects in {Delay}")]
    public static partial void ReconnectScheduled(ILogger logger, string businessId, TimeSpan delay);

    [LoggerMessage(MultiTenantEventIds.HandlerFailed, LogLevel.Error, "Handler {Handler} failed on a {EventType} event of tenant {BusinessId}")]
    public static partial void HandlerFailed(ILogger logger, string handler, string eventType, string businessId, Exception exception);

    [LoggerMessage(MultiTenantEventIds.EventDropped, LogLevel.Warning, "Tenant {BusinessId}: the event queue is full and the {Policy} policy dropped a {EventType} event")]
    public static partial void EventDropped(ILogger logger, string businessId, string policy, string eventType);

    [LoggerMessage(MultiTenantEventIds.ClientCleanupFailed, LogLevel.Warning, "Tenant {BusinessId}: the client failed to {Operation}")]
    public static partial void ClientCleanupFailed(ILogger logger, string businessId, string operation, Exception exception);

    [LoggerMessage(MultiTenantEventIds.CoordinatorStarted, LogLevel.Information, "Tenant coordinator started on host {HostId}")]
    public static partial void CoordinatorStarted(ILogger logger, string hostId);

    [LoggerMessage(MultiTenantEventIds.CoordinatorStopping, LogLevel.Information, "Tenant coordinator stopping {Count} tenants")]
    public static partial void CoordinatorStopping(ILogger logger, int count);

    [LoggerMessage(MultiTenantEventIds.CoordinatorStopped, LogLevel.Information, "Tenant coordinator stopped")]
    public static partial void CoordinatorStopped(ILogger logger);

    [LoggerMessage(MultiTenantEventIds.ShutdownTimedOut, LogLevel.Warning, "Tenant coordinator shutdown timed out; cancelling event handlers")]
    public static partial void ShutdownTimedOut(ILogger logger);

    [LoggerMessage(MultiTenantEventIds.TenantsResumed, LogLevel.Information, "Resuming {Count} tenants recorded as running")]
    public static partial void TenantsResumed(ILogger logger, int count);

    [LoggerMessage(MultiTenantEventIds.StatusWriteFailed, LogLevel.Warning, "Writing {Count} tenant statuses failed; retrying in {Delay}")]
    public static partial void StatusWriteFailed(ILogger logger, int count, TimeSpan delay, Exception exception);
}
