using System.Security.Cryptography;
using System.Text.Json;
using MultiTenant.Inbox;

namespace MultiTenant.Wuzapi.Webhooks;

/// <summary>
/// Turns one verified engine event (<c>jsonData</c>: <c>{"type":"…","event":{…},…}</c>) into the tenant's inbox items (source
/// <c>wuzapi</c>; the payload is the engine's JSON unchanged): a message is keyed by its id (<c>m/{Info.ID}</c>); a receipt becomes one
/// item per message id (<c>r/{state}/{id}</c>); presence, chat presence and history sync, which carry no id, are keyed by the SHA-256 of
/// the event, so a repeated delivery of the same event is absorbed.
/// </summary>
internal static class WuzapiInboxItems
{
    public const string SourceName = "wuzapi";

    public const string MessageKind = "message";

    public const string ReceiptKind = "receipt";

    public const string PresenceKind = "presence";

    public const string ChatPresenceKind = "chatpresence";

    public const string HistorySyncKind = "historysync";

    /// <summary>
    /// The items of <paramref name="json"/> for <paramref name="tenant"/>; empty for an event type that is not delivered (or one without
    /// the ids it needs). <see langword="null"/> when <paramref name="json"/> is not an engine event at all.
    /// </summary>
    public static List<InboxWrite>? Create(TenantId tenant, ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            var evt = root.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.Object ? e : default;
            var items = new List<InboxWrite>();
            switch (type.GetString())
            {
                case WuzapiEventTypes.Message:
                    if (evt.ValueKind == JsonValueKind.Object && evt.TryGetProperty("Info", out var info) && info.ValueKind == JsonValueKind.Object
                        && WuzapiJson.Text(info, "ID") is { Length: > 0 } id)
                    {
                        Add(items, tenant, "m/" + id, MessageKind, json);
                    }

                    break;
                case WuzapiEventTypes.ReadReceipt:
                    string state = WuzapiJson.Text(root, "state") ?? "Delivered";
                    if (evt.ValueKind == JsonValueKind.Object && evt.TryGetProperty("MessageIDs", out var ids) && ids.ValueKind == JsonValueKind.Array)
                    {
                        foreach (var messageId in ids.EnumerateArray())
                        {
                            if (messageId.ValueKind == JsonValueKind.String && messageId.GetString() is { Length: > 0 } value)
                            {
                                Add(items, tenant, "r/" + state + "/" + value, ReceiptKind, json);
                            }
                        }
                    }

                    break;
                case WuzapiEventTypes.Presence:
                    Add(items, tenant, "p/" + Hash(json), PresenceKind, json);
                    break;
                case WuzapiEventTypes.ChatPresence:
                    Add(items, tenant, "c/" + Hash(json), ChatPresenceKind, json);
                    break;
                case WuzapiEventTypes.HistorySync:
                    Add(items, tenant, "h/" + Hash(json), HistorySyncKind, json);
                    break;
            }

            return items;
        }
    }

    /// <summary>The message id of a receipt item, from its key <c>r/{state}/{id}</c>.</summary>
    public static string? ReceiptMessageId(string key)
    {
        int second = key.IndexOf('/', 2);
        return key.StartsWith("r/", StringComparison.Ordinal) && second > 0 && second < key.Length - 1 ? key[(second + 1)..] : null;
    }

    private static void Add(List<InboxWrite> items, TenantId tenant, string key, string kind, ReadOnlyMemory<byte> json)
    {
        try
        {
            InboxNames.ThrowIfInvalidKey(key, nameof(key));
        }
        catch (ArgumentException)
        {
            return; // an id outside the inbox's key rules (over 255 characters, control characters): not an event we can keep apart
        }

        items.Add(new InboxWrite(tenant, key, SourceName, kind, json));
    }

    private static string Hash(ReadOnlyMemory<byte> json) => Convert.ToHexStringLower(SHA256.HashData(json.Span));
}

/// <summary>Small readers of the engine's JSON.</summary>
internal static class WuzapiJson
{
    public static string? Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static bool Bool(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.True;

    public static DateTimeOffset? Time(JsonElement element, string property) =>
        Text(element, property) is { } text && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var value)
            && value.Year > 1
            ? value
            : null;

    /// <summary>The user part of a JID (<c>5491155554444</c> of <c>5491155554444.0:52@s.whatsapp.net</c>).</summary>
    public static string User(string jid)
    {
        int end = jid.IndexOfAny(['@', ':', '.']);
        return end < 0 ? jid : jid[..end];
    }
}
