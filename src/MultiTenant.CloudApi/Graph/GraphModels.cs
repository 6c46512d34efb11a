namespace MultiTenant.CloudApi.Graph;

// The Graph API documents the package exchanges, as Meta documents them (snake_case through CloudApiJsonContext).

/// <summary><c>{"messaging_product":"whatsapp","contacts":[{"input":"…","wa_id":"…"}],"messages":[{"id":"wamid…"}]}</c></summary>
internal sealed class SendMessageResponse
{
    public List<SentMessage>? Messages { get; set; }
}

internal sealed class SentMessage
{
    public string? Id { get; set; }
}

/// <summary>Graph's error body: <c>{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}</c>.</summary>
internal sealed class GraphErrorEnvelope
{
    public GraphErrorBody? Error { get; set; }
}

internal sealed class GraphErrorBody
{
    public string? Message { get; set; }

    public string? Type { get; set; }

    public int? Code { get; set; }

    public int? ErrorSubcode { get; set; }

    public GraphErrorData? ErrorData { get; set; }

    public string? FbtraceId { get; set; }
}

internal sealed class GraphErrorData
{
    public string? Details { get; set; }
}

/// <summary><c>GET /{version}/{phone-number-id}?fields=health_status,…</c>.</summary>
internal sealed class PhoneNumberHealthResponse
{
    public string? Id { get; set; }

    public string? DisplayPhoneNumber { get; set; }

    public string? QualityRating { get; set; }

    public HealthStatus? HealthStatus { get; set; }
}

internal sealed class HealthStatus
{
    /// <summary><c>AVAILABLE</c>, <c>LIMITED</c> or <c>BLOCKED</c>.</summary>
    public string? CanSendMessage { get; set; }

    public List<HealthEntity>? Entities { get; set; }
}

internal sealed class HealthEntity
{
    public string? EntityType { get; set; }

    public string? Id { get; set; }

    public string? CanSendMessage { get; set; }

    public List<HealthError>? Errors { get; set; }
}

internal sealed class HealthError
{
    public int? ErrorCode { get; set; }

    public string? ErrorDescription { get; set; }

    public string? PossibleSolution { get; set; }
}

/// <summary>The answer to a read receipt: <c>{"success":true}</c>.</summary>
internal sealed class SuccessResponse
{
    public bool Success { get; set; }
}

/// <summary><c>GET /{version}/{waba-id}/message_templates</c>: <c>{"data":[{"name","language","status","category","id"}],"paging":{"cursors":{"before","after"},"next"}}</c>.</summary>
internal sealed class TemplatesResponse
{
    public List<TemplateNode>? Data { get; set; }

    public GraphPaging? Paging { get; set; }
}

internal sealed class TemplateNode
{
    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? Language { get; set; }

    public string? Status { get; set; }

    public string? Category { get; set; }
}

internal sealed class GraphPaging
{
    public GraphCursors? Cursors { get; set; }

    public string? Next { get; set; }
}

internal sealed class GraphCursors
{
    public string? Before { get; set; }

    public string? After { get; set; }
}

/// <summary><c>POST /{version}/{phone-number-id}/media</c> → <c>{"id":"…"}</c>.</summary>
internal sealed class MediaUploadResponse
{
    public string? Id { get; set; }
}

/// <summary><c>GET /{version}/{media-id}</c> → <c>{"messaging_product":"whatsapp","url","mime_type","sha256","file_size","id"}</c>.</summary>
internal sealed class MediaInfoResponse
{
    public string? Url { get; set; }

    public string? MimeType { get; set; }

    public string? Sha256 { get; set; }

    public long? FileSize { get; set; }

    public string? Id { get; set; }
}
