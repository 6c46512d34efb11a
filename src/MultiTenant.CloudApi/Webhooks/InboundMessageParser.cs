using System.Globalization;
using System.Text.Json;
using MultiTenant.Events;

namespace MultiTenant.CloudApi.Webhooks;

/// <summary>
/// The one entry point that turns Meta's webhook JSON into tenant events: a pure function of a <c>value</c> element (as Meta sends
/// it: <c>metadata</c>, <c>contacts</c>, and <c>messages</c> or <c>statuses</c>) to the events it carries, in order. The webhook
/// uses it to decide what to keep (<see cref="WebhookProcessor"/>), and the inbox decoder (<see cref="CloudApiInboxDecoder"/>) to turn a
/// stored item, a <c>value</c> with one message or status, back into its event; so both always agree on what an item is.
/// </summary>
/// <remarks>
/// Messages become <see cref="CloudApiMessageEvent"/>s (any message with an id), statuses <see cref="CloudApiReceiptEvent"/>s (sent,
/// delivered, read and failed; other statuses, such as <c>deleted</c>, are not receipts and yield nothing). A missing or invalid
/// timestamp is replaced by <c>fallbackTime</c> (the item's receipt time), so every decoding of one item gives the same event.
/// </remarks>
internal static class InboundMessageParser
{
    /// <summary>Parses a webhook <c>value</c> element into its events, in order (messages first, then statuses).</summary>
    /// <param name="value">A change's <c>value</c> object.</param>
    /// <param name="fallbackTime">The timestamp of events whose own timestamp is missing or invalid.</param>
    /// <exception cref="JsonException">The element is not shaped like a webhook value.</exception>
    public static List<TenantEvent> Parse(JsonElement value, DateTimeOffset fallbackTime)
    {
        var events = new List<TenantEvent>();
        var parsed = value.Deserialize(CloudApiJsonContext.Default.WebhookValue);
        string phoneNumberId = parsed?.Metadata?.PhoneNumberId ?? string.Empty;
        if (parsed?.Messages is { } messages)
        {
            foreach (var message in messages)
            {
                if (message?.Id is not { Length: > 0 } id)
                {
                    continue;
                }

                var from = message.From ?? string.Empty;
                events.Add(new CloudApiMessageEvent
                {
                    MessageId = id,
                    From = from,
                    Type = message.Type ?? "unknown",
                    Text = message.Text?.Body,
                    Timestamp = ParseTimestamp(message.Timestamp, fallbackTime),
                    PhoneNumberId = phoneNumberId,
                    ContactName = FindContactName(parsed.Contacts, from),
                });
            }
        }

        if (parsed?.Statuses is { } statuses)
        {
            foreach (var status in statuses)
            {
                if (status?.Id is not { Length: > 0 } id || ParseStatus(status.Status) is not { } receipt)
                {
                    continue; // statuses outside sent/delivered/read/failed (for example "deleted") are not receipts
                }

                var error = status.Errors is [{ } first, ..] ? first : null;
                events.Add(new CloudApiReceiptEvent
                {
                    MessageId = id,
                    Recipient = status.RecipientId ?? string.Empty,
                    Status = receipt,
                    Timestamp = ParseTimestamp(status.Timestamp, fallbackTime),
                    PhoneNumberId = phoneNumberId,
                    ErrorCode = error?.Code,
                    Error = error is null ? null : DescribeError(error),
                });
            }
        }

        return events;
    }

    private static DateTimeOffset ParseTimestamp(string? value, DateTimeOffset fallbackTime) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds) && seconds is > 0 and < 253402300800
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : fallbackTime;

    private static ReceiptStatus? ParseStatus(string? status) => status switch
    {
        "sent" => ReceiptStatus.Sent,
        "delivered" => ReceiptStatus.Delivered,
        "read" => ReceiptStatus.Read,
        "failed" => ReceiptStatus.Failed,
        _ => null,
    };

    private static string? FindContactName(List<WebhookContact>? contacts, string from)
    {
        if (contacts is null)
        {
            return null;
        }

        foreach (var contact in contacts)
        {
            if (contact is not null && string.Equals(contact.WaId, from, StringComparison.Ordinal))
            {
                return contact.Profile?.Name;
            }
        }

        return contacts is [{ Profile.Name: { } name }] ? name : null;
    }

    private static string DescribeError(WebhookError error)
    {
        string code = error.Code?.ToString(CultureInfo.InvariantCulture) ?? "?";
        string title = error.Title ?? error.Message ?? "error";
        return error.ErrorData?.Details is { Length: > 0 } details && !string.Equals(details, title, StringComparison.Ordinal)
            ? $"{code}: {title} ({details})"
            : $"{code}: {title}";
    }
}
