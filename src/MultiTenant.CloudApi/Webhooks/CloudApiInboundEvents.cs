using MultiTenant.Clients;
using MultiTenant.Events;

namespace MultiTenant.CloudApi;

/// <summary>
/// An inbound image, document, audio file or voice note, video or sticker. Download the file with
/// <see cref="ICloudApiMedia.DownloadAsync"/> (or <c>GET /api/tenants/{id}/media/{media_id}</c>) soon: Meta keeps its URL briefly.
/// <see cref="MessageEvent.Text"/> is the caption, when there is one.
/// </summary>
public sealed class CloudApiMediaMessageEvent : CloudApiMessageEvent
{
    /// <summary>Which kind of media (from <see cref="MessageEvent.Type"/>).</summary>
    public MediaKind MediaKind { get; set; }

    /// <summary>The media id, for <see cref="ICloudApiMedia.DownloadAsync"/>.</summary>
    public string MediaId { get; set; } = string.Empty;

    /// <summary>The MIME type, for example <c>image/jpeg</c> or <c>audio/ogg; codecs=opus</c>.</summary>
    public string? MimeType { get; set; }

    /// <summary>The file's SHA-256 as Meta sent it.</summary>
    public string? Sha256 { get; set; }

    /// <summary>The caption (images, videos, documents), or <see langword="null"/>.</summary>
    public string? Caption { get; set; }

    /// <summary>The file name (documents), or <see langword="null"/>.</summary>
    public string? FileName { get; set; }

    /// <summary>Whether an audio message is a voice note recorded in WhatsApp.</summary>
    public bool IsVoice { get; set; }

    /// <summary>Whether a sticker is animated.</summary>
    public bool IsAnimated { get; set; }
}

/// <summary>An inbound location. <see cref="MessageEvent.Text"/> is its name, when there is one.</summary>
public sealed class CloudApiLocationEvent : CloudApiMessageEvent
{
    /// <summary>The latitude in degrees.</summary>
    public double Latitude { get; set; }

    /// <summary>The longitude in degrees.</summary>
    public double Longitude { get; set; }

    /// <summary>The place's name, or <see langword="null"/>.</summary>
    public string? Name { get; set; }

    /// <summary>The place's address, or <see langword="null"/>.</summary>
    public string? Address { get; set; }

    /// <summary>The place's URL, or <see langword="null"/>.</summary>
    public string? Url { get; set; }
}

/// <summary>Inbound shared contact cards. <see cref="MessageEvent.Text"/> is the first card's formatted name.</summary>
public sealed class CloudApiContactsEvent : CloudApiMessageEvent
{
    /// <summary>The cards, in the order sent.</summary>
    public IReadOnlyList<CloudApiSharedContact> Contacts { get; set; } = [];
}

/// <summary>A shared contact card.</summary>
/// <param name="FormattedName">The full name as shown.</param>
/// <param name="FirstName">The first name, or <see langword="null"/>.</param>
/// <param name="LastName">The last name, or <see langword="null"/>.</param>
/// <param name="Company">The organisation, or <see langword="null"/>.</param>
/// <param name="Phones">The phone numbers.</param>
/// <param name="Emails">The e-mail addresses.</param>
public sealed record CloudApiSharedContact(
    string FormattedName,
    string? FirstName,
    string? LastName,
    string? Company,
    IReadOnlyList<CloudApiContactPhone> Phones,
    IReadOnlyList<string> Emails);

/// <summary>A phone number of a shared contact card.</summary>
/// <param name="Phone">The number as the sender's address book has it.</param>
/// <param name="WaId">Its WhatsApp id, when the number is on WhatsApp, or <see langword="null"/>.</param>
/// <param name="Type">Its type (<c>CELL</c>, <c>MAIN</c>, <c>IPHONE</c>, <c>HOME</c>, <c>WORK</c>), or <see langword="null"/>.</param>
public sealed record CloudApiContactPhone(string Phone, string? WaId, string? Type);

/// <summary>
/// A reply to an interactive message: a tapped reply button (<see cref="ReplyType"/> <c>button_reply</c>) or a chosen list row
/// (<c>list_reply</c>). <see cref="MessageEvent.Text"/> is the title; <see cref="CloudApiMessageEvent.ReplyToMessageId"/> the
/// interactive message.
/// </summary>
public sealed class CloudApiInteractiveReplyEvent : CloudApiMessageEvent
{
    /// <summary><c>button_reply</c>, <c>list_reply</c> (or another type Meta adds, such as <c>nfm_reply</c>).</summary>
    public string ReplyType { get; set; } = string.Empty;

    /// <summary>The id the business gave the button or row.</summary>
    public string ReplyId { get; set; } = string.Empty;

    /// <summary>The button's or row's title.</summary>
    public string? Title { get; set; }

    /// <summary>The row's description (lists only), or <see langword="null"/>.</summary>
    public string? Description { get; set; }
}

/// <summary>A tapped quick-reply button of a template message. <see cref="MessageEvent.Text"/> is the button's text.</summary>
public sealed class CloudApiButtonEvent : CloudApiMessageEvent
{
    /// <summary>The payload the template defined for the button.</summary>
    public string? Payload { get; set; }
}

/// <summary>A reaction to a message, or its removal (<see cref="Emoji"/> <see langword="null"/>). <see cref="MessageEvent.Text"/> is the emoji.</summary>
public sealed class CloudApiReactionEvent : CloudApiMessageEvent
{
    /// <summary>The message reacted to.</summary>
    public string ReactedMessageId { get; set; } = string.Empty;

    /// <summary>The emoji, or <see langword="null"/> when the reaction was removed.</summary>
    public string? Emoji { get; set; }
}

/// <summary>
/// An inbound message of a kind without its own event: <c>order</c>, <c>system</c> (for example a customer's number changed),
/// <c>unsupported</c>/<c>unknown</c> (WhatsApp could not pass it on; see <see cref="ErrorCode"/>), or a type Meta adds later.
/// <see cref="Json"/> is Meta's message object as received; <see cref="MessageEvent.Text"/> a system message's body.
/// </summary>
public sealed class CloudApiOtherMessageEvent : CloudApiMessageEvent
{
    /// <summary>Meta's message object, as JSON text.</summary>
    public string Json { get; set; } = "{}";

    /// <summary>Meta's first error code on the message (for example 131051, unsupported message type), or <see langword="null"/>.</summary>
    public int? ErrorCode { get; set; }

    /// <summary>That error as "code: title (details)", or <see langword="null"/>.</summary>
    public string? Error { get; set; }
}

/// <summary>
/// An error Meta reported for the business phone number outside any message (the <c>errors</c> array of a webhook change), for
/// example 130429 (rate limit hit) or 131000 (something went wrong).
/// </summary>
public sealed class CloudApiWebhookErrorEvent : TenantEvent
{
    /// <summary>The business phone number id the error is about.</summary>
    public string PhoneNumberId { get; set; } = string.Empty;

    /// <summary>Meta's error code.</summary>
    public int? Code { get; set; }

    /// <summary>The error as "code: title (details)".</summary>
    public string Error { get; set; } = string.Empty;
}
