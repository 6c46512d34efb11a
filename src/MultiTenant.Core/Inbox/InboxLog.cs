using Microsoft.Extensions.Logging;

namespace MultiTenant.Inbox;

/// <summary>The event ids of the inbox's log messages (1500–1549), for filtering and alerting.</summary>
public static class InboxEventIds
{
    /// <summary>An inbox item's handlers failed; it is retried after a backoff.</summary>
    public const int DeliveryFailed = 1500;

    /// <summary>An inbox item became a dead letter.</summary>
    public const int DeadLettered = 1501;

    /// <summary>An inbox item could not be decoded.</summary>
    public const int DecodeFailed = 1502;

    /// <summary>The inbox store failed; the consumer retries.</summary>
    public const int StoreFailed = 1503;
}

/// <summary>The inbox's log messages.</summary>
internal static partial class InboxLog
{
    [LoggerMessage(InboxEventIds.DeliveryFailed, LogLevel.Warning,
        "Inbox item {ItemId} of tenant {BusinessId} failed attempt {Attempt}; retrying in {Delay}")]
    public static partial void DeliveryFailed(ILogger logger, string businessId, long itemId, int attempt, TimeSpan delay);

    [LoggerMessage(InboxEventIds.DeadLettered, LogLevel.Warning,
        "Inbox item {ItemId} of tenant {BusinessId} is a dead letter after {Attempts} attempts")]
    public static partial void DeadLettered(ILogger logger, string businessId, long itemId, int attempts);

    [LoggerMessage(InboxEventIds.DecodeFailed, LogLevel.Warning, "Inbox item {ItemId} of tenant {BusinessId} could not be decoded ({ErrorType})")]
    public static partial void DecodeFailed(ILogger logger, string businessId, long itemId, string errorType);

    [LoggerMessage(InboxEventIds.StoreFailed, LogLevel.Warning, "The inbox of tenant {BusinessId} could not be read or updated; retrying")]
    public static partial void StoreFailed(ILogger logger, string businessId, Exception exception);
}
