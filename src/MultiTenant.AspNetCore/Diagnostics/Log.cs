using Microsoft.Extensions.Logging;

namespace MultiTenant.AspNetCore.Diagnostics;

/// <summary>The event ids of MultiTenant.AspNetCore's log messages, for filtering and alerting.</summary>
public static class TenantApiEventIds
{
    /// <summary>An endpoint of the tenant API failed unexpectedly and answered 500.</summary>
    public const int UnhandledException = 2000;

    /// <summary>A request was rejected with a 4xx problem (Debug level).</summary>
    public const int RequestRejected = 2001;

    /// <summary>The backend refused a message sent through the API.</summary>
    public const int SendRefused = 2002;

    /// <summary>A start or stop was requested through the API.</summary>
    public const int TenantCommand = 2003;

    /// <summary>A tenant's client failed to send a message with an exception that is not a <c>TenantSendException</c>; answered 502.</summary>
    public const int SendFailed = 2004;

    /// <summary>A request was over its caller's rate limit and answered 429 (Debug level).</summary>
    public const int RateLimited = 2010;

    /// <summary>The API is rate limited but the host did not call <c>app.UseRateLimiter()</c>; the API answers 500 until it does.</summary>
    public const int RateLimiterMissing = 2011;

    /// <summary>The idempotency store failed: a send answered 503, or a finished send could not be recorded.</summary>
    public const int IdempotencyStoreFailed = 2012;

    /// <summary>A send with a used <c>Idempotency-Key</c> was answered with the first message id (Debug level).</summary>
    public const int IdempotentReplay = 2013;

    /// <summary>An outbound webhook delivery attempt failed and is retried.</summary>
    public const int WebhookFailed = 2020;

    /// <summary>An outbound webhook event became a dead letter (retry period over, target refused, or no subscription).</summary>
    public const int WebhookDeadLettered = 2021;

    /// <summary>The webhook outbox could not be read or written (the store failed); retried.</summary>
    public const int WebhookStoreFailed = 2022;
}

/// <summary>All log messages of MultiTenant.AspNetCore.</summary>
internal static partial class Log
{
    [LoggerMessage(TenantApiEventIds.UnhandledException, LogLevel.Error, "Tenant API endpoint {Endpoint} failed unexpectedly and answered 500 (trace id {TraceId})")]
    public static partial void UnhandledException(ILogger logger, string endpoint, string traceId, Exception exception);

    [LoggerMessage(TenantApiEventIds.RequestRejected, LogLevel.Debug, "Tenant API endpoint {Endpoint} answered {StatusCode}: {Detail}")]
    public static partial void RequestRejected(ILogger logger, string endpoint, int statusCode, string detail);

    [LoggerMessage(TenantApiEventIds.SendFailed, LogLevel.Error, "Tenant {BusinessId}: the client failed to send a message (error id {ErrorId})")]
    public static partial void SendFailed(ILogger logger, string businessId, string errorId, Exception exception);

    [LoggerMessage(TenantApiEventIds.SendRefused, LogLevel.Warning, "Tenant {BusinessId}: the backend refused a message (transient: {IsTransient}, code: {ErrorCode})")]
    public static partial void SendRefused(ILogger logger, string businessId, bool isTransient, string? errorCode);

    [LoggerMessage(TenantApiEventIds.TenantCommand, LogLevel.Information, "Tenant API: {Command} tenant {BusinessId}")]
    public static partial void TenantCommand(ILogger logger, string command, string businessId);

    [LoggerMessage(TenantApiEventIds.WebhookFailed, LogLevel.Warning, "Tenant {BusinessId}: webhook event {EventId} attempt {Attempt} failed ({Error}); next attempt in {Delay}")]
    public static partial void WebhookFailed(ILogger logger, string businessId, string eventId, int attempt, string error, TimeSpan delay);

    [LoggerMessage(TenantApiEventIds.WebhookDeadLettered, LogLevel.Error, "Tenant {BusinessId}: webhook event {EventId} became a dead letter after {Attempts} attempts ({Error})")]
    public static partial void WebhookDeadLettered(ILogger logger, string businessId, string eventId, int attempts, string error);

    [LoggerMessage(TenantApiEventIds.WebhookStoreFailed, LogLevel.Warning, "Tenant {BusinessId}: the webhook outbox failed; retrying")]
    public static partial void WebhookStoreFailed(ILogger logger, string businessId, Exception exception);
}
