using System.Globalization;
using System.Text.Json;

namespace MultiTenant.Clients;

// The reader: the inverse of the writers, strict about shapes (a wrong type or a missing required member is an InvalidMessageException
// naming the field), lenient about members it does not know (Meta adds members; "messaging_product" and "recipient_type" are ignored).
public static partial class OutboundMessageJson
{
    /// <summary>
    /// Reads a message object. Besides the Cloud API's shape, the short form <c>{"to":"…","text":"…"}</c> (text as a string) is a text
    /// message.
    /// </summary>
    /// <param name="utf8Json">The JSON.</param>
    /// <exception cref="InvalidMessageException">Not JSON, or not a message object (the exception names the field).</exception>
    public static OutboundMessage Parse(ReadOnlySpan<byte> utf8Json) => ParseDocument(utf8Json, strict: false);

    private static OutboundMessage ParseDocument(ReadOnlySpan<byte> utf8Json, bool strict)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 16 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new InvalidMessageException("$", ex.LineNumber is { } line && ex.BytePositionInLine is { } position
                ? $"The message is not valid JSON (line {line + 1}, byte {position + 1})."
                : "The message is not valid JSON.");
        }

        using (document)
        {
            try
            {
                if (strict)
                {
                    CheckMembers(document.RootElement);
                }

                return Read(document.RootElement);
            }
            catch (InvalidOperationException)
            {
                // JsonElement.GetString on text that is not valid UTF-8 or holds an unpaired surrogate escape.
                throw new InvalidMessageException("$", "The message contains text that is not valid UTF-8 or not valid Unicode.");
            }
        }
    }

    /// <summary>Reads a message object from a parsed element (see <see cref="Parse"/>).</summary>
    /// <param name="message">The element.</param>
    /// <exception cref="InvalidMessageException">Not a message object (the exception names the field).</exception>
    public static OutboundMessage Read(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidMessageException("$", "The message must be a JSON object.");
        }

        string to = RequiredString(message, "to", "to");
        string? replyTo = message.TryGetProperty("context", out var context) ? RequiredString(context, "message_id", "context.message_id") : null;
        string? type = OptionalString(message, "type", "type");
        if (type is null && message.TryGetProperty("text", out var shortText) && shortText.ValueKind == JsonValueKind.String)
        {
            return new OutboundMessage(to, shortText.GetString()!) { ReplyToMessageId = replyTo };
        }

        type ??= "text";
        if (!message.TryGetProperty(type, out var body))
        {
            throw new InvalidMessageException(type, $"A message of type '{type}' needs a '{type}' member.");
        }

        MessageContent content = type switch
        {
            "text" => new TextContent(RequiredString(Object(body, "text"), "body", "text.body")) { PreviewUrl = OptionalBool(body, "preview_url") },
            "template" => ReadTemplate(Object(body, "template")),
            "image" or "document" or "audio" or "video" or "sticker" => ReadMedia(type, Object(body, type)),
            "location" => ReadLocation(Object(body, "location")),
            "reaction" => new ReactionContent(
                RequiredString(Object(body, "reaction"), "message_id", "reaction.message_id"),
                OptionalString(body, "emoji", "reaction.emoji") ?? string.Empty),
            "contacts" => ReadContacts(body),
            "interactive" => ReadInteractive(Object(body, "interactive")),
            _ => throw new InvalidMessageException("type", $"Unknown message type '{type}'. Use text, template, image, document, audio, video, sticker, location, contacts, reaction or interactive."),
        };
        return new OutboundMessage(to, content) { ReplyToMessageId = replyTo };
    }

    private static JsonElement Object(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.Object ? element : throw new InvalidMessageException(field, $"'{field}' must be an object.");

    private static JsonElement Array(JsonElement parent, string name, string field) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value
            : throw new InvalidMessageException(field, $"'{field}' must be an array.");

    private static string RequiredString(JsonElement parent, string name, string field) =>
        OptionalString(parent, name, field) ?? throw new InvalidMessageException(field, $"'{field}' is required.");

    private static string? OptionalString(JsonElement parent, string name, string field)
    {
        if (parent.ValueKind != JsonValueKind.Object || !parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new InvalidMessageException(field, $"'{field}' must be a string.");
    }

    private static bool OptionalBool(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static double RequiredNumber(JsonElement parent, string name, string field)
    {
        if (parent.TryGetProperty(name, out var value))
        {
            // Meta's own examples give coordinates as strings as often as numbers.
            if (value.ValueKind == JsonValueKind.Number)
            {
                return value.GetDouble();
            }

            if (value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed))
            {
                return parsed;
            }
        }

        throw new InvalidMessageException(field, $"'{field}' must be a number.");
    }

    private static MediaSource ReadSource(JsonElement body, string field)
    {
        string? id = OptionalString(body, "id", field + ".id");
        string? link = OptionalString(body, "link", field + ".link");
        if ((id is null) == (link is null))
        {
            throw new InvalidMessageException(field, $"'{field}' needs exactly one of 'id' (an uploaded media id) and 'link'.");
        }

        if (id is not null)
        {
            return string.IsNullOrWhiteSpace(id) ? throw new InvalidMessageException(field + ".id", "The media id is empty.") : MediaSource.FromId(id);
        }

        if (!Uri.TryCreate(link, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new InvalidMessageException(field + ".link", "The media link must be an absolute http or https URL.");
        }

        return MediaSource.FromLink(uri);
    }

    private static MediaContent ReadMedia(string type, JsonElement body)
    {
        var kind = type switch
        {
            "image" => MediaKind.Image,
            "document" => MediaKind.Document,
            "audio" => MediaKind.Audio,
            "video" => MediaKind.Video,
            _ => MediaKind.Sticker,
        };
        return new MediaContent(kind, ReadSource(body, type))
        {
            Caption = OptionalString(body, "caption", type + ".caption"),
            Filename = OptionalString(body, "filename", type + ".filename"),
        };
    }

    private static LocationContent ReadLocation(JsonElement body) =>
        new(RequiredNumber(body, "latitude", "location.latitude"), RequiredNumber(body, "longitude", "location.longitude"))
        {
            Name = OptionalString(body, "name", "location.name"),
            Address = OptionalString(body, "address", "location.address"),
        };
}
