using System.Globalization;
using System.Text;

namespace MultiTenant.CloudApi.Tests.Infrastructure;

/// <summary>Webhook payloads in the shapes of Meta's webhook reference ("messages" field: text messages, statuses).</summary>
public static class MetaPayloads
{
    public const string WabaId = "102290129340398";

    /// <summary>An inbound text message as in Meta's reference.</summary>
    public static string TextMessage(string from, string id, long timestamp, string body) =>
        $$"""{"from":"{{from}}","id":"{{id}}","timestamp":"{{timestamp.ToString(CultureInfo.InvariantCulture)}}","text":{"body":"{{body}}"},"type":"text"}""";

    /// <summary>A status update; failed ones carry Meta's errors array.</summary>
    public static string Status(string id, string status, string recipient, long timestamp, int? errorCode = null, string? errorTitle = null)
    {
        string conversation = status == "failed"
            ? $$""","errors":[{"code":{{errorCode}},"title":"{{errorTitle}}","message":"{{errorTitle}}","error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]"""
            : ""","conversation":{"id":"f5fdae3920125a39a1e6a23e5f877c16","expiration_timestamp":"1694505360","origin":{"type":"utility"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}""";
        return $$"""{"id":"{{id}}","status":"{{status}}","timestamp":"{{timestamp.ToString(CultureInfo.InvariantCulture)}}","recipient_id":"{{recipient}}"{{conversation}}}""";
    }

    /// <summary>One change for one business phone number: its messages and/or statuses.</summary>
    public static string Change(string phoneNumberId, IEnumerable<string>? messages = null, IEnumerable<string>? statuses = null, string contactWaId = "16505551234", string contactName = "Sheena Nelson")
    {
        var value = new StringBuilder();
        value.Append($$"""{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"{{phoneNumberId}}"}""");
        if (messages is not null)
        {
            value.Append($$""","contacts":[{"profile":{"name":"{{contactName}}"},"wa_id":"{{contactWaId}}"}],"messages":[""").Append(string.Join(',', messages)).Append(']');
        }

        if (statuses is not null)
        {
            value.Append(""","statuses":[""").Append(string.Join(',', statuses)).Append(']');
        }

        value.Append('}');
        return $$"""{"value":{{value}},"field":"messages"}""";
    }

    /// <summary>The envelope: <c>{"object":"whatsapp_business_account","entry":[{"id":"…","changes":[…]}]}</c>.</summary>
    public static string Envelope(params string[] changes) =>
        $$"""{"object":"whatsapp_business_account","entry":[{"id":"{{WabaId}}","changes":[{{string.Join(',', changes)}}]}]}""";
}
