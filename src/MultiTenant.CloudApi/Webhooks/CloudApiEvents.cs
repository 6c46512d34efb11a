using MultiTenant.Events;

namespace MultiTenant.CloudApi;

/// <summary>An inbound message delivered by the Cloud API webhook: a <see cref="MessageEvent"/> with the Cloud API's extra fields.</summary>
/// <remarks><see cref="MessageEvent.From"/> is the sender's WhatsApp id (phone number digits), <see cref="MessageEvent.MessageId"/>
/// Meta's <c>wamid…</c>, <see cref="TenantEvent.Timestamp"/> Meta's timestamp, <see cref="MessageEvent.Text"/> the body of a text
/// message (<see langword="null"/> for other types).</remarks>
public sealed class CloudApiMessageEvent : MessageEvent
{
    /// <summary>The business phone number id that received the message.</summary>
    public string PhoneNumberId { get; set; } = string.Empty;

    /// <summary>The sender's WhatsApp profile name, when Meta sent it.</summary>
    public string? ContactName { get; set; }
}

/// <summary>A status update of a sent message (sent, delivered, read, failed) delivered by the Cloud API webhook.</summary>
/// <remarks>For <see cref="ReceiptStatus.Failed"/>, <see cref="ReceiptEvent.Error"/> carries Meta's first error as
/// "code: title (details)" and <see cref="ErrorCode"/> its code.</remarks>
public sealed class CloudApiReceiptEvent : ReceiptEvent
{
    /// <summary>The business phone number id that sent the message.</summary>
    public string PhoneNumberId { get; set; } = string.Empty;

    /// <summary>Meta's error code when delivery failed (for example 131026, message undeliverable).</summary>
    public int? ErrorCode { get; set; }
}
