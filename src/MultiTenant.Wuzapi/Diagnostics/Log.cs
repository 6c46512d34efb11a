using Microsoft.Extensions.Logging;

namespace MultiTenant.Wuzapi.Diagnostics;

/// <summary>The event ids of MultiTenant.Wuzapi's log messages. None of the messages ever contains a user token, an admin token or an HMAC key.</summary>
public static class WuzapiEventIds
{
    /// <summary>A tenant's engine user was created on an engine.</summary>
    public const int EngineUserCreated = 3000;

    /// <summary>An engine no longer knows a tenant's engine user; a new one is created.</summary>
    public const int EngineUserLost = 3001;

    /// <summary>A tenant waits for its phone to pair (a QR code or a pairing code is on the pairing board).</summary>
    public const int PairingStarted = 3002;

    /// <summary>A tenant's phone paired.</summary>
    public const int Paired = 3003;

    /// <summary>A tenant's device was logged out (from the phone, or through the logout endpoint).</summary>
    public const int LoggedOut = 3004;

    /// <summary>An engine call failed.</summary>
    public const int EngineCallFailed = 3005;

    /// <summary>A webhook delivery was refused: unknown tenant, missing or wrong signature, too large, or not an event.</summary>
    public const int WebhookRefused = 3100;

    /// <summary>The inbox or the state store failed while storing a webhook delivery; it was answered 503.</summary>
    public const int WebhookStoreFailed = 3101;
}

internal static partial class Log
{
    [LoggerMessage(WuzapiEventIds.EngineUserCreated, LogLevel.Information, "Tenant {BusinessId} has engine user {UserId} on wuzapi engine {Engine}")]
    public static partial void EngineUserCreatedCore(ILogger logger, string businessId, long userId, string engine);

    public static void EngineUserCreated(ILogger logger, string businessId, string engine, long userId) => EngineUserCreatedCore(logger, businessId, userId, engine);

    [LoggerMessage(WuzapiEventIds.EngineUserLost, LogLevel.Warning, "Wuzapi engine {Engine} no longer knows engine user {UserId} of tenant {BusinessId}; creating a new one (the phone must pair again)")]
    public static partial void EngineUserLostCore(ILogger logger, string engine, long userId, string businessId);

    public static void EngineUserLost(ILogger logger, string businessId, string engine, long userId) => EngineUserLostCore(logger, engine, userId, businessId);

    [LoggerMessage(WuzapiEventIds.PairingStarted, LogLevel.Information, "Tenant {BusinessId} waits for its phone to pair (pairing board)")]
    public static partial void PairingStarted(ILogger logger, string businessId);

    [LoggerMessage(WuzapiEventIds.Paired, LogLevel.Information, "Tenant {BusinessId} is paired")]
    public static partial void Paired(ILogger logger, string businessId);

    [LoggerMessage(WuzapiEventIds.LoggedOut, LogLevel.Warning, "Tenant {BusinessId} was logged out: {How}")]
    public static partial void LoggedOut(ILogger logger, string businessId, string how);

    [LoggerMessage(WuzapiEventIds.EngineCallFailed, LogLevel.Warning, "A wuzapi engine call of tenant {BusinessId} failed: {Reason}")]
    public static partial void EngineCallFailed(ILogger logger, string businessId, string reason);

    [LoggerMessage(WuzapiEventIds.WebhookRefused, LogLevel.Warning, "Refused a wuzapi webhook delivery with {StatusCode}: {Reason}")]
    public static partial void WebhookRefused(ILogger logger, int statusCode, string reason);

    [LoggerMessage(WuzapiEventIds.WebhookStoreFailed, LogLevel.Error, "Could not store a wuzapi webhook delivery ({ExceptionType}); answered 503")]
    public static partial void WebhookStoreFailed(ILogger logger, string exceptionType, Exception exception);
}
