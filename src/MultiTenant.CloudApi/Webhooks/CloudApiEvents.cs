using MultiTenant.Events;

namespace MultiTenant.CloudApi;

/// <summary>An inbound message delivered by the Cloud API webhook: a <see cref="MessageEvent"/> with the Cloud API's extra fields.</summary>
/// <remarks><see cref="MessageEvent.From"/> is the sender's WhatsApp id (phone number digits), <see cref="MessageEvent.MessageId"/>
/// Meta's <c>wamid…</c>, <see cref="TenantEvent.Timestamp"/> Meta's timestamp, <see cref="MessageEvent.Text"/> the body of a text
/// message (<see langword="null"/> for other types unless their event says otherwise). Kinds beyond text arrive as the derived events
/// <see cref="CloudApiMediaMessageEvent"/>, <see cref="CloudApiLocationEvent"/>, <see cref="CloudApiContactsEvent"/>,
/// <see cref="CloudApiInteractiveReplyEvent"/>, <see cref="CloudApiButtonEvent"/>, <see cref="CloudApiReactionEvent"/> and
/// <see cref="CloudApiOtherMessageEvent"/>, so a handler of <see cref="CloudApiMessageEvent"/> still sees every message.</remarks>
public class CloudApiMessageEvent : MessageEvent
{
    /// <summary>The business phone number id that received the message.</summary>
    public string PhoneNumberId { get; set; } = string.Empty;

    /// <summary>The sender's WhatsApp profile name, when Meta sent it.</summary>
    public string? ContactName { get; set; }

    /// <summary>The message this one replies to (Meta's <c>context.id</c>: a quoted message, or the interactive message whose button
    /// was tapped), or <see langword="null"/>.</summary>
    public string? ReplyToMessageId { get; set; }

    /// <summary>Whether the message was forwarded (Meta's <c>context.forwarded</c> or <c>context.frequently_forwarded</c>).</summary>
    public bool IsForwarded { get; set; }
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

    /// <summary>The conversation the message opened or belongs to (Meta's <c>conversation.id</c>), or <see langword="null"/>.</summary>
    public string? ConversationId { get; set; }

    /// <summary>The conversation's category (<c>conversation.origin.type</c>): <c>marketing</c>, <c>utility</c>, <c>authentication</c>,
    /// <c>service</c>, <c>referral_conversion</c>, …, or <see langword="null"/>.</summary>
    public string? ConversationCategory { get; set; }

    /// <summary>When the conversation window ends (<c>conversation.expiration_timestamp</c>), or <see langword="null"/>.</summary>
    public DateTimeOffset? ConversationExpiresAt { get; set; }

    /// <summary>Whether the message is billed (<c>pricing.billable</c>), or <see langword="null"/> when Meta sent no pricing.</summary>
    public bool? Billable { get; set; }

    /// <summary>The pricing model (<c>pricing.pricing_model</c>: <c>CBP</c>, <c>PMP</c>), or <see langword="null"/>.</summary>
    public string? PricingModel { get; set; }

    /// <summary>The pricing category (<c>pricing.category</c>), or <see langword="null"/>.</summary>
    public string? PricingCategory { get; set; }
}
