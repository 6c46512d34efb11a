namespace MultiTenant.CloudApi.Webhooks;

// Meta's webhook payload for the "messages" field (snake_case through CloudApiJsonContext):
// {"object":"whatsapp_business_account","entry":[{"id":"<WABA_ID>","changes":[{"field":"messages","value":{
//   "messaging_product":"whatsapp","metadata":{"display_phone_number":"…","phone_number_id":"…"},
//   "contacts":[{"profile":{"name":"…"},"wa_id":"…"}],
//   "messages":[{"from":"…","id":"wamid.…","timestamp":"1504902988","type":"text","text":{"body":"…"}}],
//   "statuses":[{"id":"wamid.…","status":"sent|delivered|read|failed","timestamp":"…","recipient_id":"…",
//                "errors":[{"code":131026,"title":"…","message":"…","error_data":{"details":"…"}}]}],
//   "errors":[{"code":130429,"title":"…"}]}}]}]}

internal sealed class WebhookPayload
{
    public string? Object { get; set; }

    public List<WebhookEntry>? Entry { get; set; }
}

internal sealed class WebhookEntry
{
    public string? Id { get; set; }

    public List<WebhookChange>? Changes { get; set; }
}

internal sealed class WebhookChange
{
    public string? Field { get; set; }

    /// <summary>The change's value, kept as JSON for <see cref="InboundMessageParser.Parse"/>.</summary>
    public System.Text.Json.JsonElement Value { get; set; }
}
