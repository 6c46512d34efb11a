namespace MultiTenant.Events;

/// <summary>
/// The base of every event a tenant produces. Clients may derive their own event types; handlers switch on the type.
/// </summary>
/// <remarks>Events are routed in order within a tenant. The library does not copy an event: a client may pool and reuse instances
/// once their delivery completed (see <see cref="ITenantEventWriter.DeliverAsync"/>).</remarks>
public abstract class TenantEvent
{
    /// <summary>When the event happened (UTC).</summary>
    public DateTimeOffset Timestamp { get; set; }
}

/// <summary>The tenant connected (raised by the coordinator).</summary>
public sealed class TenantConnectedEvent : TenantEvent
{
}

/// <summary>The tenant's connection was lost; the coordinator reconnects (raised by the coordinator).</summary>
public sealed class TenantDisconnectedEvent : TenantEvent
{
    /// <summary>Why, when known.</summary>
    public string? Reason { get; init; }
}

/// <summary>The tenant hit a fatal condition and stopped retrying (raised by the coordinator).</summary>
public sealed class TenantFaultedEvent : TenantEvent
{
    /// <summary>The fatal reason.</summary>
    public MultiTenant.Clients.TenantFatalReason Reason { get; init; }

    /// <summary>The error.</summary>
    public string Error { get; init; } = string.Empty;
}

/// <summary>An inbound message.</summary>
public class MessageEvent : TenantEvent
{
    /// <summary>The message id.</summary>
    public string MessageId { get; set; } = string.Empty;

    /// <summary>The sender.</summary>
    public string From { get; set; } = string.Empty;

    /// <summary>The message type (<c>text</c>, <c>image</c>, ...).</summary>
    public string Type { get; set; } = "text";

    /// <summary>The text, for text messages.</summary>
    public string? Text { get; set; }
}

/// <summary>The states a sent message goes through.</summary>
public enum ReceiptStatus
{
    /// <summary>Accepted by the server.</summary>
    Sent = 0,

    /// <summary>Delivered to the recipient's device.</summary>
    Delivered = 1,

    /// <summary>Read by the recipient.</summary>
    Read = 2,

    /// <summary>Delivery failed.</summary>
    Failed = 3,
}

/// <summary>A status update of a sent message.</summary>
public class ReceiptEvent : TenantEvent
{
    /// <summary>The message the receipt is about.</summary>
    public string MessageId { get; set; } = string.Empty;

    /// <summary>The recipient.</summary>
    public string Recipient { get; set; } = string.Empty;

    /// <summary>The status.</summary>
    public ReceiptStatus Status { get; set; }

    /// <summary>Why delivery failed, when <see cref="Status"/> is <see cref="ReceiptStatus.Failed"/>.</summary>
    public string? Error { get; set; }
}
