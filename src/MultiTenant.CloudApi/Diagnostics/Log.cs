using Microsoft.Extensions.Logging;

namespace MultiTenant.CloudApi.Diagnostics;

/// <summary>The event ids of MultiTenant.CloudApi's log messages. None of the messages ever contains an access token or app secret.</summary>
public static class CloudApiEventIds
{
    /// <summary>A tenant's Cloud API credentials were set.</summary>
    public const int CredentialsSet = 2000;

    /// <summary>A tenant's Cloud API credentials were deleted.</summary>
    public const int CredentialsDeleted = 2001;

    /// <summary>WhatsApp reports that a tenant's number can send only with limits (health_status LIMITED).</summary>
    public const int MessagingLimited = 2002;

    /// <summary>A Graph API call failed.</summary>
    public const int GraphCallFailed = 2003;

    /// <summary>Graph rejected a tenant's access token or its permissions; the tenant stops with an error.</summary>
    public const int CredentialsRejected = 2004;

    /// <summary>A tenant's credentials, stored in clear by an earlier version, were rewritten encrypted.</summary>
    public const int CredentialsEncrypted = 2005;

    /// <summary>A webhook delivery was refused: missing or wrong signature, too large, or not JSON.</summary>
    public const int WebhookRefused = 2100;

    /// <summary>A webhook delivery named a phone number id that no tenant holds: its items are kept as unrouted until one claims it.</summary>
    public const int WebhookUnknownNumber = 2101;

    /// <summary>A webhook delivery carried errors reported by WhatsApp.</summary>
    public const int WebhookErrorsReported = 2104;

    /// <summary>The webhook verification handshake failed.</summary>
    public const int WebhookVerificationFailed = 2105;

    /// <summary>The inbox or the phone number index failed while storing a webhook delivery; it was answered 503 so Meta retries.</summary>
    public const int WebhookStoreFailed = 2108;

    /// <summary>The items kept for unknown numbers reached <c>CloudApiOptions.UnroutedCapacity</c>; the delivery was answered 503.</summary>
    public const int WebhookUnroutedFull = 2109;

    /// <summary>Items of a webhook delivery were not stored: an id or size outside the inbox's limits.</summary>
    public const int WebhookItemsRefused = 2110;

}

/// <summary>All log messages of MultiTenant.CloudApi.</summary>
internal static partial class Log
{
    [LoggerMessage(CloudApiEventIds.CredentialsSet, LogLevel.Information, "Cloud API credentials set for tenant {BusinessId} (phone number id {PhoneNumberId})")]
    public static partial void CredentialsSet(ILogger logger, string businessId, string phoneNumberId);

    [LoggerMessage(CloudApiEventIds.CredentialsDeleted, LogLevel.Information, "Cloud API credentials deleted for tenant {BusinessId}")]
    public static partial void CredentialsDeleted(ILogger logger, string businessId);

    [LoggerMessage(CloudApiEventIds.MessagingLimited, LogLevel.Warning, "Tenant {BusinessId}: WhatsApp reports messaging as LIMITED for phone number id {PhoneNumberId}: {Reason}")]
    public static partial void MessagingLimited(ILogger logger, string businessId, string phoneNumberId, string reason);

    [LoggerMessage(CloudApiEventIds.GraphCallFailed, LogLevel.Warning, "Tenant {BusinessId}: the Graph API {Operation} failed: {Error}")]
    public static partial void GraphCallFailed(ILogger logger, string businessId, string operation, string error);

    [LoggerMessage(CloudApiEventIds.CredentialsRejected, LogLevel.Error, "Tenant {BusinessId}: the Graph API rejected the credentials: {Error}")]
    public static partial void CredentialsRejected(ILogger logger, string businessId, string error);

    [LoggerMessage(CloudApiEventIds.CredentialsEncrypted, LogLevel.Information, "Tenant {BusinessId}: Cloud API credentials stored in clear by an earlier version were rewritten encrypted")]
    public static partial void CredentialsEncrypted(ILogger logger, string businessId);

    [LoggerMessage(CloudApiEventIds.WebhookRefused, LogLevel.Warning, "Webhook delivery refused with {StatusCode}: {Reason}")]
    public static partial void WebhookRefused(ILogger logger, int statusCode, string reason);

    [LoggerMessage(CloudApiEventIds.WebhookUnknownNumber, LogLevel.Warning, "Webhook delivery for phone number id {PhoneNumberId}, which no tenant holds: {Count} items kept as unrouted until a tenant sets credentials with it")]
    public static partial void WebhookUnknownNumber(ILogger logger, string phoneNumberId, int count);

    [LoggerMessage(CloudApiEventIds.WebhookErrorsReported, LogLevel.Warning, "Webhook delivery for phone number id {PhoneNumberId} reports WhatsApp error {Code}: {Title}")]
    public static partial void WebhookErrorReported(ILogger logger, string phoneNumberId, int code, string title);

    [LoggerMessage(CloudApiEventIds.WebhookVerificationFailed, LogLevel.Warning, "Webhook verification handshake refused: {Reason}")]
    public static partial void WebhookVerificationFailed(ILogger logger, string reason);

    [LoggerMessage(CloudApiEventIds.WebhookStoreFailed, LogLevel.Error, "Webhook delivery not stored ({ErrorType}); answered 503 so Meta delivers it again")]
    public static partial void WebhookStoreFailed(ILogger logger, string errorType, Exception exception);

    [LoggerMessage(CloudApiEventIds.WebhookUnroutedFull, LogLevel.Warning, "Webhook delivery for phone number id {PhoneNumberId}, which no tenant holds: {Count} items not kept, {Capacity} unrouted items are kept already; answered 503")]
    public static partial void WebhookUnroutedFull(ILogger logger, string phoneNumberId, int count, int capacity);

    [LoggerMessage(CloudApiEventIds.WebhookItemsRefused, LogLevel.Warning, "Webhook delivery for phone number id {PhoneNumberId}: {Count} items not stored: {Reason}")]
    public static partial void WebhookItemsRefused(ILogger logger, string phoneNumberId, int count, string reason);
}
