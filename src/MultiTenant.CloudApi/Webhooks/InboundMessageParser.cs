using System.Globalization;
using System.Text.Json;
using MultiTenant.Clients;
using MultiTenant.Events;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>
/// The one entry point that turns Meta's webhook JSON into tenant events: a pure function of a change's <c>value</c> element
/// (<c>metadata</c>, <c>contacts</c>, <c>messages</c>, <c>statuses</c>, <c>errors</c>) and a fallback time to the typed events it carries,
/// in order: messages (one event type per kind, <see cref="CloudApiOtherMessageEvent"/> for the rest), then receipts with conversation
/// and pricing, then <see cref="CloudApiWebhookErrorEvent"/>s. The webhook and the durable inbox's decoder both call it, so they agree.
/// </summary>
/// <remarks>Unknown members are ignored. A value without <c>metadata.phone_number_id</c> (account-level fields), a message without an
/// id and a status outside sent/delivered/read/failed (for example <c>deleted</c>) yield nothing. A missing or invalid timestamp is
/// replaced by <c>fallbackTime</c>, so every decoding of one stored item gives the same event. Message kinds are in
/// <c>InboundMessageParser.Messages.cs</c>.</remarks>
internal static partial class InboundMessageParser
{
    /// <summary>Parses a webhook <c>value</c> element into its events, in order (messages, statuses, errors).</summary>
    /// <param name="value">A change's <c>value</c> object.</param>
    /// <param name="fallbackTime">The timestamp of events whose own timestamp is missing or invalid (and of errors, which have none).</param>
    public static List<TenantEvent> Parse(JsonElement value, DateTimeOffset fallbackTime)
    {
        var events = new List<TenantEvent>();
        if (value.ValueKind != JsonValueKind.Object)
        {
            return events;
        }

        string? phoneNumberId = value.TryGetProperty("metadata", out var metadata) ? Str(metadata, "phone_number_id") : null;
        if (string.IsNullOrEmpty(phoneNumberId))
        {
            return events; // account-level fields (account_update, templates, ...) carry no number
        }

        value.TryGetProperty("contacts", out var contacts);
        foreach (var message in Array(value, "messages"))
        {
            if (ParseMessage(message, contacts, phoneNumberId, fallbackTime) is { } parsed)
            {
                events.Add(parsed);
            }
        }

        foreach (var status in Array(value, "statuses"))
        {
            if (ParseStatus(status, phoneNumberId, fallbackTime) is { } parsed)
            {
                events.Add(parsed);
            }
        }

        foreach (var error in Array(value, "errors"))
        {
            events.Add(new CloudApiWebhookErrorEvent
            {
                PhoneNumberId = phoneNumberId,
                Code = Int(error, "code"),
                Error = DescribeError(error),
                Timestamp = fallbackTime,
            });
        }

        return events;
    }

    private static CloudApiReceiptEvent? ParseStatus(JsonElement status, string phoneNumberId, DateTimeOffset fallbackTime)
    {
        ReceiptStatus? receipt = Str(status, "status") switch
        {
            "sent" => ReceiptStatus.Sent,
            "delivered" => ReceiptStatus.Delivered,
            "read" => ReceiptStatus.Read,
            "failed" => ReceiptStatus.Failed,
            _ => null, // for example "deleted": not a receipt
        };
        if (Str(status, "id") is not { Length: > 0 } id || receipt is null)
        {
            return null;
        }

        var error = FirstError(status);
        var result = new CloudApiReceiptEvent
        {
            MessageId = id,
            Recipient = Str(status, "recipient_id") ?? string.Empty,
            Status = receipt.Value,
            Timestamp = Timestamp(status, "timestamp") ?? fallbackTime,
            PhoneNumberId = phoneNumberId,
            ErrorCode = error is { } e ? Int(e, "code") : null,
            Error = error is { } described ? DescribeError(described) : null,
        };
        if (status.TryGetProperty("conversation", out var conversation) && conversation.ValueKind == JsonValueKind.Object)
        {
            result.ConversationId = Str(conversation, "id");
            result.ConversationExpiresAt = Timestamp(conversation, "expiration_timestamp");
            result.ConversationCategory = conversation.TryGetProperty("origin", out var origin) ? Str(origin, "type") : null;
        }

        if (status.TryGetProperty("pricing", out var pricing) && pricing.ValueKind == JsonValueKind.Object)
        {
            result.Billable = pricing.TryGetProperty("billable", out var billable) && billable.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? billable.GetBoolean()
                : null;
            result.PricingModel = Str(pricing, "pricing_model");
            result.PricingCategory = Str(pricing, "category");
        }

        return result;
    }

    private static JsonElement? FirstError(JsonElement element)
    {
        foreach (var error in Array(element, "errors"))
        {
            return error;
        }

        return null;
    }

    /// <summary>"code: title (details)", Meta's error as the events carry it.</summary>
    private static string DescribeError(JsonElement error)
    {
        string code = Int(error, "code")?.ToString(CultureInfo.InvariantCulture) ?? "?";
        string title = Str(error, "title") ?? Str(error, "message") ?? "error";
        string? details = error.TryGetProperty("error_data", out var data) ? Str(data, "details") : null;
        return details is { Length: > 0 } && !string.Equals(details, title, StringComparison.Ordinal) ? $"{code}: {title} ({details})" : $"{code}: {title}";
    }

    private static string? FindContactName(JsonElement contacts, string from)
    {
        if (contacts.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        string? only = null;
        int count = 0;
        foreach (var contact in contacts.EnumerateArray())
        {
            count++;
            string? name = contact.TryGetProperty("profile", out var profile) ? Str(profile, "name") : null;
            if (string.Equals(Str(contact, "wa_id"), from, StringComparison.Ordinal))
            {
                return name;
            }

            only = name;
        }

        return count == 1 ? only : null;
    }

    private static JsonElement.ArrayEnumerator Array(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray()
            : default;

    private static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Int(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number) ? number
            : value.ValueKind == JsonValueKind.String && int.TryParse(value.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out number) ? number
            : null
            : null;

    private static bool Bool(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    private static double? Double(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind == JsonValueKind.Number ? value.GetDouble()
            : value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double number) ? number
            : null
            : null;

    /// <summary>Meta's Unix timestamps are strings of seconds (sometimes numbers); out-of-range values count as absent.</summary>
    private static DateTimeOffset? Timestamp(JsonElement element, string name)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var value))
        {
            return null;
        }

        long seconds;
        bool parsed = value.ValueKind == JsonValueKind.Number ? value.TryGetInt64(out seconds)
            : long.TryParse(value.ValueKind == JsonValueKind.String ? value.GetString() : null, NumberStyles.None, CultureInfo.InvariantCulture, out seconds);
        return parsed && seconds is > 0 and < 253402300800 ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
    }
}
