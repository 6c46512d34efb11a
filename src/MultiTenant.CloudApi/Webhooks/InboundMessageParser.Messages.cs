using System.Text.Json;
using MultiTenant.Clients;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>The message kinds: one typed event per kind Meta documents, the generic event for the rest.</summary>
internal static partial class InboundMessageParser
{
    private static CloudApiMessageEvent? ParseMessage(JsonElement message, JsonElement contacts, string phoneNumberId, DateTimeOffset fallbackTime)
    {
        if (Str(message, "id") is not { Length: > 0 } id)
        {
            return null;
        }

        string type = Str(message, "type") ?? "unknown";
        message.TryGetProperty(type, out var body);
        CloudApiMessageEvent result = type switch
        {
            "text" => new CloudApiMessageEvent { Text = Str(body, "body") },
            "image" or "document" or "audio" or "video" or "sticker" => Media(type, body),
            "location" => Location(body),
            "contacts" => Contacts(body),
            "interactive" => Interactive(body),
            "button" => new CloudApiButtonEvent { Payload = Str(body, "payload"), Text = Str(body, "text") },
            "reaction" => Reaction(body),
            _ => Other(message, type, body),
        };

        string from = Str(message, "from") ?? string.Empty;
        result.MessageId = id;
        result.From = from;
        result.Type = type;
        result.Timestamp = Timestamp(message, "timestamp") ?? fallbackTime;
        result.PhoneNumberId = phoneNumberId;
        result.ContactName = FindContactName(contacts, from);
        if (message.TryGetProperty("context", out var context) && context.ValueKind == JsonValueKind.Object)
        {
            result.ReplyToMessageId = Str(context, "id");
            result.IsForwarded = Bool(context, "forwarded") || Bool(context, "frequently_forwarded");
        }

        return result;
    }

    private static CloudApiMediaMessageEvent Media(string type, JsonElement body)
    {
        string? caption = Str(body, "caption");
        return new CloudApiMediaMessageEvent
        {
            MediaKind = type switch
            {
                "image" => MediaKind.Image,
                "document" => MediaKind.Document,
                "audio" => MediaKind.Audio,
                "video" => MediaKind.Video,
                _ => MediaKind.Sticker,
            },
            MediaId = Str(body, "id") ?? string.Empty,
            MimeType = Str(body, "mime_type"),
            Sha256 = Str(body, "sha256"),
            Caption = caption,
            FileName = Str(body, "filename"),
            IsVoice = Bool(body, "voice"),
            IsAnimated = Bool(body, "animated"),
            Text = caption,
        };
    }

    private static CloudApiLocationEvent Location(JsonElement body)
    {
        string? name = Str(body, "name");
        return new CloudApiLocationEvent
        {
            Latitude = Double(body, "latitude") ?? 0,
            Longitude = Double(body, "longitude") ?? 0,
            Name = name,
            Address = Str(body, "address"),
            Url = Str(body, "url"),
            Text = name,
        };
    }

    private static CloudApiContactsEvent Contacts(JsonElement cards)
    {
        var list = new List<CloudApiSharedContact>();
        foreach (var card in cards.ValueKind == JsonValueKind.Array ? cards.EnumerateArray() : default)
        {
            card.TryGetProperty("name", out var name);
            var phones = new List<CloudApiContactPhone>();
            foreach (var phone in Array(card, "phones"))
            {
                if (Str(phone, "phone") is { } number)
                {
                    phones.Add(new CloudApiContactPhone(number, Str(phone, "wa_id"), Str(phone, "type")));
                }
            }

            var emails = new List<string>();
            foreach (var email in Array(card, "emails"))
            {
                if (Str(email, "email") is { } address)
                {
                    emails.Add(address);
                }
            }

            string? company = card.TryGetProperty("org", out var org) ? Str(org, "company") : null;
            list.Add(new CloudApiSharedContact(Str(name, "formatted_name") ?? string.Empty, Str(name, "first_name"), Str(name, "last_name"), company, phones, emails));
        }

        return new CloudApiContactsEvent { Contacts = list, Text = list is [{ } first, ..] ? first.FormattedName : null };
    }

    private static CloudApiInteractiveReplyEvent Interactive(JsonElement body)
    {
        string replyType = Str(body, "type") ?? string.Empty;
        body.TryGetProperty(replyType, out var reply);
        string? title = Str(reply, "title");
        return new CloudApiInteractiveReplyEvent
        {
            ReplyType = replyType,
            ReplyId = Str(reply, "id") ?? string.Empty,
            Title = title,
            Description = Str(reply, "description"),
            Text = title,
        };
    }

    private static CloudApiReactionEvent Reaction(JsonElement body)
    {
        string? emoji = Str(body, "emoji") is { Length: > 0 } e ? e : null;
        return new CloudApiReactionEvent { ReactedMessageId = Str(body, "message_id") ?? string.Empty, Emoji = emoji, Text = emoji };
    }

    private static CloudApiOtherMessageEvent Other(JsonElement message, string type, JsonElement body)
    {
        var error = FirstError(message);
        return new CloudApiOtherMessageEvent
        {
            Json = message.GetRawText(),
            ErrorCode = error is { } e ? Int(e, "code") : null,
            Error = error is { } described ? DescribeError(described) : null,
            Text = type == "system" ? Str(body, "body") : null,
        };
    }
}
