namespace MultiTenant.Clients;

/// <summary>A message to send: a recipient, one <see cref="MessageContent"/> (text, template, media, location, contacts, reaction or
/// interactive) and, optionally, the message it replies to.</summary>
/// <remarks>
/// The model is backend-neutral; each backend checks the limits of its own protocol before sending and throws
/// <see cref="InvalidMessageException"/> for content it cannot carry. <see cref="OutboundMessageJson"/> gives it a JSON form (the
/// shape of the WhatsApp Cloud API message object), so a message can be stored or relayed to another host whatever its kind.
/// </remarks>
public sealed record OutboundMessage
{
    /// <summary>A text message.</summary>
    /// <param name="to">The recipient (a phone number in international format, or a JID).</param>
    /// <param name="text">The text.</param>
    public OutboundMessage(string to, string text)
        : this(to, new TextContent(text))
    {
    }

    /// <summary>A message of any kind.</summary>
    /// <param name="to">The recipient (a phone number in international format, or a JID).</param>
    /// <param name="content">What to send.</param>
    /// <exception cref="ArgumentNullException"><paramref name="to"/> or <paramref name="content"/> is <see langword="null"/>.</exception>
    public OutboundMessage(string to, MessageContent content)
    {
        ArgumentNullException.ThrowIfNull(to);
        ArgumentNullException.ThrowIfNull(content);
        To = to;
        Content = content;
    }

    /// <summary>The recipient (a phone number in international format, or a JID).</summary>
    public string To { get; init; }

    /// <summary>What to send.</summary>
    public MessageContent Content { get; init; }

    /// <summary>The id of the message this one replies to (shown quoted), or <see langword="null"/> (the default) for none.</summary>
    public string? ReplyToMessageId { get; init; }

    /// <summary>The text of a <see cref="TextContent"/> message; an empty string for every other kind.</summary>
    public string Text => Content is TextContent text ? text.Body : string.Empty;
}
