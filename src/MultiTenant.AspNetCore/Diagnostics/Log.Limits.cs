using Microsoft.Extensions.Logging;

namespace MultiTenant.AspNetCore.Diagnostics;

/// <summary>The log messages of the API's limits: rate limiting and idempotent sends.</summary>
internal static partial class Log
{
    [LoggerMessage(TenantApiEventIds.RateLimited, LogLevel.Debug, "Tenant API: {Method} {Path} rate limited, answered 429 (retry after {RetryAfterSeconds} s)")]
    public static partial void RateLimited(ILogger logger, string method, string path, long retryAfterSeconds);

    [LoggerMessage(
        TenantApiEventIds.RateLimiterMissing,
        LogLevel.Error,
        "Tenant API endpoint {Endpoint} is rate limited, but the rate limiting middleware did not run, so the API answers 500. Call app.UseRateLimiter() when building the pipeline (after app.UseAuthentication() if you call it), or set WhatsAppTenants:Api:RateLimits:Enabled to false.")]
    public static partial void RateLimiterMissing(ILogger logger, string endpoint);

    [LoggerMessage(TenantApiEventIds.IdempotencyStoreFailed, LogLevel.Warning, "Tenant {BusinessId}: the idempotency store failed")]
    public static partial void IdempotencyStoreFailed(ILogger logger, string businessId, Exception exception);

    [LoggerMessage(TenantApiEventIds.IdempotentReplay, LogLevel.Debug, "Tenant {BusinessId}: a send with a used Idempotency-Key was answered with the first message id")]
    public static partial void IdempotentReplay(ILogger logger, string businessId);
}
