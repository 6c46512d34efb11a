namespace MultiTenant.Webhooks;

/// <summary>The event types a webhook subscription can ask for, as they appear in a delivery's <c>event_type</c>.</summary>
public static class WebhookEventTypes
{
    /// <summary>Every event type: <c>*</c>.</summary>
    public const string All = "*";

    /// <summary>An inbound message (<see cref="Events.MessageEvent"/>): <c>message</c>.</summary>
    public const string Message = "message";

    /// <summary>A status update of a sent message (<see cref="Events.ReceiptEvent"/>): <c>receipt</c>.</summary>
    public const string Receipt = "receipt";

    /// <summary>The tenant connected: <c>connected</c>.</summary>
    public const string Connected = "connected";

    /// <summary>The tenant's connection was lost: <c>disconnected</c>.</summary>
    public const string Disconnected = "disconnected";

    /// <summary>The tenant hit a fatal error and stopped retrying: <c>faulted</c>.</summary>
    public const string Faulted = "faulted";

    /// <summary>The most event types one subscription may list: 16.</summary>
    public const int MaxCount = 16;

    /// <summary>Every known type, <see cref="All"/> excluded.</summary>
    public static IReadOnlyList<string> Known { get; } = [Message, Receipt, Connected, Disconnected, Faulted];

    /// <summary>Whether <paramref name="eventType"/> is a known type or <see cref="All"/>.</summary>
    public static bool IsValid(string? eventType) => eventType == All || (eventType is not null && Known.Contains(eventType, StringComparer.Ordinal));

    /// <summary>Whether a subscription to <paramref name="subscribed"/> receives events of <paramref name="eventType"/>.</summary>
    public static bool Matches(IReadOnlyList<string> subscribed, string eventType)
    {
        ArgumentNullException.ThrowIfNull(subscribed);
        foreach (string type in subscribed)
        {
            if (type == All || string.Equals(type, eventType, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless <paramref name="eventTypes"/> holds 1 to <see cref="MaxCount"/> distinct valid types.
    /// </summary>
    public static void ThrowIfInvalid(IReadOnlyList<string> eventTypes)
    {
        if (Validate(eventTypes) is { } problem)
        {
            throw new ArgumentException(problem, nameof(eventTypes));
        }
    }

    /// <summary>What is wrong with <paramref name="eventTypes"/>, or <see langword="null"/> when they are valid.</summary>
    public static string? Validate(IReadOnlyList<string>? eventTypes)
    {
        if (eventTypes is null || eventTypes.Count == 0 || eventTypes.Count > MaxCount)
        {
            return $"Give 1 to {MaxCount} event types.";
        }

        for (int i = 0; i < eventTypes.Count; i++)
        {
            if (!IsValid(eventTypes[i]))
            {
                return $"Unknown event type '{eventTypes[i]}': use '{All}' or one of {string.Join(", ", Known)}.";
            }

            for (int j = 0; j < i; j++)
            {
                if (string.Equals(eventTypes[i], eventTypes[j], StringComparison.Ordinal))
                {
                    return $"The event type '{eventTypes[i]}' is listed twice.";
                }
            }
        }

        return null;
    }
}
