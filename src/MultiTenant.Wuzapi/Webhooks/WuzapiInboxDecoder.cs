using System.Text;
using System.Text.Json;
using MultiTenant.Events;
using MultiTenant.Inbox;

namespace MultiTenant.Wuzapi.Webhooks;

/// <summary>
/// Decodes the wuzapi inbox items (source <c>wuzapi</c>, written by the webhook; see <see cref="WuzapiInboxItems"/>) into the events
/// the tenant's handlers receive: <see cref="WuzapiMessageEvent"/>, <see cref="ReceiptEvent"/>, <see cref="WuzapiPresenceEvent"/>,
/// <see cref="WuzapiChatPresenceEvent"/>, and <see cref="WuzapiEngineEvent"/> for history syncs.
/// </summary>
internal sealed class WuzapiInboxDecoder : IInboxEventDecoder
{
    public string Source => WuzapiInboxItems.SourceName;

    public TenantEvent? Decode(InboxItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        try
        {
            using var document = JsonDocument.Parse(item.Payload);
            var root = document.RootElement;
            var evt = root.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
            return item.Kind switch
            {
                WuzapiInboxItems.MessageKind => Message(root, evt, item),
                WuzapiInboxItems.ReceiptKind => Receipt(root, evt, item),
                WuzapiInboxItems.PresenceKind => new WuzapiPresenceEvent
                {
                    From = WuzapiJson.Text(evt, "From") ?? string.Empty,
                    Available = !WuzapiJson.Bool(evt, "Unavailable"),
                    LastSeen = WuzapiJson.Time(evt, "LastSeen"),
                    Timestamp = item.ReceivedAt,
                },
                WuzapiInboxItems.ChatPresenceKind => new WuzapiChatPresenceEvent
                {
                    Chat = WuzapiJson.Text(evt, "Chat") ?? string.Empty,
                    Sender = WuzapiJson.Text(evt, "Sender") ?? string.Empty,
                    State = WuzapiJson.Text(evt, "State") ?? string.Empty,
                    Media = WuzapiJson.Text(evt, "Media") ?? string.Empty,
                    Timestamp = item.ReceivedAt,
                },
                WuzapiInboxItems.HistorySyncKind => new WuzapiEngineEvent
                {
                    EventType = WuzapiEventTypes.HistorySync,
                    Payload = Encoding.UTF8.GetString(item.Payload.Span),
                    Timestamp = item.ReceivedAt,
                },
                _ => null,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static WuzapiMessageEvent? Message(JsonElement root, JsonElement evt, InboxItem item)
    {
        if (!evt.TryGetProperty("Info", out var info) || WuzapiJson.Text(info, "ID") is not { Length: > 0 } id)
        {
            return null;
        }

        var message = evt.TryGetProperty("Message", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        var (type, text) = Content(message);
        string sender = WuzapiJson.Text(info, "Sender") ?? string.Empty;
        return new WuzapiMessageEvent
        {
            MessageId = id,
            From = WuzapiJson.User(sender),
            Type = type,
            Text = text,
            Chat = WuzapiJson.Text(info, "Chat") ?? string.Empty,
            SenderJid = sender,
            PushName = WuzapiJson.Text(info, "PushName") is { Length: > 0 } pushName ? pushName : null,
            IsGroup = WuzapiJson.Bool(info, "IsGroup"),
            IsFromMe = WuzapiJson.Bool(info, "IsFromMe"),
            Payload = Encoding.UTF8.GetString(item.Payload.Span),
            Timestamp = WuzapiJson.Time(info, "Timestamp") ?? item.ReceivedAt,
        };
    }

    private static ReceiptEvent? Receipt(JsonElement root, JsonElement evt, InboxItem item)
    {
        if (WuzapiInboxItems.ReceiptMessageId(item.Key) is not { } id)
        {
            return null;
        }

        return new ReceiptEvent
        {
            MessageId = id,
            Recipient = WuzapiJson.User(WuzapiJson.Text(evt, "Chat") ?? string.Empty),
            Status = WuzapiJson.Text(root, "state") is "Read" or "ReadSelf" ? ReceiptStatus.Read : ReceiptStatus.Delivered,
            Timestamp = WuzapiJson.Time(evt, "Timestamp") ?? item.ReceivedAt,
        };
    }

    /// <summary>The kind and text of a whatsmeow <c>waE2E.Message</c> (protobuf JSON names: <c>conversation</c>, <c>imageMessage</c>, …).</summary>
    private static (string Type, string? Text) Content(JsonElement message)
    {
        if (WuzapiJson.Text(message, "conversation") is { } conversation)
        {
            return ("text", conversation);
        }

        ReadOnlySpan<(string Property, string Type, string? TextProperty)> kinds =
        [
            ("extendedTextMessage", "text", "text"),
            ("imageMessage", "image", "caption"),
            ("videoMessage", "video", "caption"),
            ("audioMessage", "audio", null),
            ("documentMessage", "document", "caption"),
            ("stickerMessage", "sticker", null),
            ("locationMessage", "location", "name"),
            ("contactMessage", "contacts", "displayName"),
            ("reactionMessage", "reaction", "text"),
        ];
        foreach (var (property, type, textProperty) in kinds)
        {
            if (message.ValueKind == JsonValueKind.Object && message.TryGetProperty(property, out var part) && part.ValueKind == JsonValueKind.Object)
            {
                return (type, textProperty is null ? null : WuzapiJson.Text(part, textProperty));
            }
        }

        return ("unknown", null);
    }
}
