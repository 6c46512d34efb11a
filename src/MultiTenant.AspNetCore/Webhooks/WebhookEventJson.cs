using System.Buffers;
using System.Text.Json;
using MultiTenant.Events;
using MultiTenant.Webhooks;

namespace MultiTenant.AspNetCore.Webhooks;

/// <summary>
/// The JSON body and the event id of a tenant event delivered by webhook:
/// <c>{"event_id","event_type","business_id","timestamp","data":{…}}</c> with RFC 3339 UTC timestamps. Written with
/// <see cref="Utf8JsonWriter"/> (no reflection).
/// </summary>
/// <remarks>
/// The event id is stable for events that can be delivered to the handlers again (an inbox redelivery after a crash): a message's id
/// is <c>message:&lt;message id&gt;</c>, a receipt's <c>receipt:&lt;message id&gt;:&lt;status&gt;</c>, so the outbox stores a redelivered
/// event once. Connection events are raised once per change and get a random id.
/// </remarks>
internal static class WebhookEventJson
{
    /// <summary>The webhook event type of <paramref name="tenantEvent"/> (no allocation), or <see langword="null"/> for kinds not delivered by webhook.</summary>
    public static string? TypeOf(TenantEvent tenantEvent) => tenantEvent switch
    {
        MessageEvent => WebhookEventTypes.Message,
        ReceiptEvent => WebhookEventTypes.Receipt,
        TenantConnectedEvent => WebhookEventTypes.Connected,
        TenantDisconnectedEvent => WebhookEventTypes.Disconnected,
        TenantFaultedEvent => WebhookEventTypes.Faulted,
        _ => null,
    };

    /// <summary>Creates the webhook form of <paramref name="tenantEvent"/>; <see langword="false"/> for event kinds not delivered by webhook.</summary>
    public static bool TryCreate(TenantId tenant, TenantEvent tenantEvent, out string eventId, out string eventType, out byte[] body)
    {
        (eventId, eventType) = tenantEvent switch
        {
            MessageEvent m when m.MessageId.Length > 0 => ("message:" + m.MessageId, WebhookEventTypes.Message),
            MessageEvent => (RandomId(), WebhookEventTypes.Message),
            ReceiptEvent r when r.MessageId.Length > 0 => ($"receipt:{r.MessageId}:{Status(r.Status)}", WebhookEventTypes.Receipt),
            ReceiptEvent => (RandomId(), WebhookEventTypes.Receipt),
            TenantConnectedEvent => (RandomId(), WebhookEventTypes.Connected),
            TenantDisconnectedEvent => (RandomId(), WebhookEventTypes.Disconnected),
            TenantFaultedEvent => (RandomId(), WebhookEventTypes.Faulted),
            _ => (string.Empty, string.Empty),
        };
        if (eventType.Length == 0)
        {
            body = [];
            return false;
        }

        if (eventId.Length > WebhookOutboxArguments.MaxEventIdLength)
        {
            eventId = eventType + ":" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(eventId)));
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("event_id", eventId);
            json.WriteString("event_type", eventType);
            json.WriteString("business_id", tenant.Value);
            json.WriteString("timestamp", Http.Rfc3339.Format(tenantEvent.Timestamp));
            json.WriteStartObject("data");
            WriteData(json, tenantEvent);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        body = buffer.WrittenSpan.ToArray();
        return true;
    }

    private static void WriteData(Utf8JsonWriter json, TenantEvent tenantEvent)
    {
        switch (tenantEvent)
        {
            case MessageEvent m:
                json.WriteString("message_id", m.MessageId);
                json.WriteString("from", m.From);
                json.WriteString("type", m.Type);
                if (m.Text is not null)
                {
                    json.WriteString("text", m.Text);
                }

                break;
            case ReceiptEvent r:
                json.WriteString("message_id", r.MessageId);
                json.WriteString("recipient", r.Recipient);
                json.WriteString("status", Status(r.Status));
                if (r.Error is not null)
                {
                    json.WriteString("error", r.Error);
                }

                break;
            case TenantDisconnectedEvent d when d.Reason is not null:
                json.WriteString("reason", d.Reason);
                break;
            case TenantFaultedEvent f:
                json.WriteString("reason", f.Reason.ToString());
                json.WriteString("error", f.Error);
                break;
        }
    }

    private static string Status(ReceiptStatus status) => status switch
    {
        ReceiptStatus.Sent => "sent",
        ReceiptStatus.Delivered => "delivered",
        ReceiptStatus.Read => "read",
        ReceiptStatus.Failed => "failed",
        _ => "unknown",
    };

    private static string RandomId() => "evt_" + Guid.NewGuid().ToString("N");
}
