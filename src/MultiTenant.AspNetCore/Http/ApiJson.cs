using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MultiTenant.AspNetCore.Http;

/// <summary>A tenant's status as the API returns it (SPEC §3): snake_case, RFC 3339 UTC timestamps, optional members omitted.</summary>
internal sealed class TenantStatusResponse
{
    [JsonPropertyName("business_id")]
    public required string BusinessId { get; init; }

    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonPropertyName("started_at")]
    public string? StartedAt { get; init; }

    [JsonPropertyName("updated_at")]
    public required string UpdatedAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonPropertyName("error")]
    public string? Error { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonPropertyName("host")]
    public string? Host { get; init; }

    /// <summary>The tenant's labels (<c>PUT {prefix}/{business_id}</c>), in a status and in a page of the list; omitted when it has none.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    [JsonPropertyName("labels")]
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public static TenantStatusResponse From(TenantStatus status, bool includeHost, IReadOnlyDictionary<string, string>? labels = null) => new()
    {
        Labels = labels is { Count: > 0 } ? labels : null,
        BusinessId = status.BusinessId.Value,
        Status = status.State.ToWireName(),
        StartedAt = status.StartedAt is { } started ? Rfc3339.Format(started) : null,
        UpdatedAt = Rfc3339.Format(status.UpdatedAt),
        Error = status.Error,
        Host = includeHost ? status.Host : null,
    };
}

/// <summary>The answer to a start or a stop: <c>{"status":"started","business_id":"tenant1"}</c>.</summary>
internal sealed class TenantCommandResponse
{
    [JsonPropertyName("status")]
    public required string Status { get; init; }

    [JsonPropertyName("business_id")]
    public required string BusinessId { get; init; }
}

/// <summary>The answer to an accepted message: <c>{"message_id":"…"}</c>.</summary>
internal sealed class MessageAcceptedResponse
{
    [JsonPropertyName("message_id")]
    public required string MessageId { get; init; }
}

/// <summary>A tenant API key without its secret: <c>{"id","business_id","created_at"}</c>.</summary>
internal sealed class ApiKeyResponse
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("business_id")]
    public required string BusinessId { get; init; }

    [JsonPropertyName("created_at")]
    public required string CreatedAt { get; init; }
}

/// <summary>A new tenant API key, shown once: <c>{"id","key","business_id","created_at"}</c>.</summary>
internal sealed class ApiKeyCreatedResponse
{
    [JsonPropertyName("id")]
    public required string Id { get; init; }

    [JsonPropertyName("key")]
    public required string Key { get; init; }

    [JsonPropertyName("business_id")]
    public required string BusinessId { get; init; }

    [JsonPropertyName("created_at")]
    public required string CreatedAt { get; init; }
}

/// <summary>An RFC 9457 problem details document.</summary>
internal sealed class ProblemResponse
{
    public required string Type { get; init; }

    public required string Title { get; init; }

    public required int Status { get; init; }

    public required string Detail { get; init; }

    /// <summary>The backend's error code of a refused send.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ErrorCode { get; init; }

    /// <summary>The request's trace id, which the server's logs carry too.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TraceId { get; init; }
}

/// <summary>The source-generated serializer of every type the tenant API writes. No reflection.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    GenerationMode = JsonSourceGenerationMode.Default)]
[JsonSerializable(typeof(TenantStatusResponse))]
[JsonSerializable(typeof(TenantStatusResponse[]))]
[JsonSerializable(typeof(TenantCommandResponse))]
[JsonSerializable(typeof(MessageAcceptedResponse))]
[JsonSerializable(typeof(ProblemResponse))]
[JsonSerializable(typeof(ApiKeyResponse[]))]
[JsonSerializable(typeof(ApiKeyCreatedResponse))]
[JsonSerializable(typeof(MultiTenant.AspNetCore.Api.WebhookSubscriptionResponse))]
internal sealed partial class TenantApiJsonContext : JsonSerializerContext
{
}

/// <summary>The serializer options of the API's responses.</summary>
internal static class ApiJson
{
    /// <summary>
    /// The source-generated context with snake_case names and relaxed escaping: the responses are <c>application/json</c> or
    /// <c>application/problem+json</c>, never HTML, so a <c>detail</c> reads <c>'to' must be ...</c> rather than <c>\u0027to\u0027</c>.
    /// </summary>
    public static readonly TenantApiJsonContext Context = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <summary>The same escaping for the health endpoints' writers.</summary>
    public static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

/// <summary>The one timestamp format of the API and the health endpoints.</summary>
internal static class Rfc3339
{
    /// <summary>
    /// Formats <paramref name="value"/> as RFC 3339 in UTC with whole seconds, e.g. <c>2025-01-07T10:00:05Z</c> (fractions are truncated).
    /// </summary>
    public static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", CultureInfo.InvariantCulture);
}
