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

    public WebhookValue? Value { get; set; }
}

internal sealed class WebhookValue
{
    public string? MessagingProduct { get; set; }

    public WebhookMetadata? Metadata { get; set; }

    public List<WebhookContact>? Contacts { get; set; }

    public List<WebhookMessage>? Messages { get; set; }

    public List<WebhookStatus>? Statuses { get; set; }

    public List<WebhookError>? Errors { get; set; }
}

internal sealed class WebhookMetadata
{
    public string? DisplayPhoneNumber { get; set; }

    public string? PhoneNumberId { get; set; }
}

internal sealed class WebhookContact
{
    public WebhookProfile? Profile { get; set; }

    public string? WaId { get; set; }
}

internal sealed class WebhookProfile
{
    public string? Name { get; set; }
}

internal sealed class WebhookMessage
{
    public string? From { get; set; }

    public string? Id { get; set; }

    public string? Timestamp { get; set; }

    public string? Type { get; set; }

    public WebhookText? Text { get; set; }
}

internal sealed class WebhookText
{
    public string? Body { get; set; }
}

internal sealed class WebhookStatus
{
    public string? Id { get; set; }

    public string? Status { get; set; }

    public string? Timestamp { get; set; }

    public string? RecipientId { get; set; }

    public List<WebhookError>? Errors { get; set; }
}

internal sealed class WebhookError
{
    public int? Code { get; set; }

    public string? Title { get; set; }

    public string? Message { get; set; }

    public WebhookErrorData? ErrorData { get; set; }
}

internal sealed class WebhookErrorData
{
    public string? Details { get; set; }
}
